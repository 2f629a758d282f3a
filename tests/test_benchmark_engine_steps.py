"""The engine-steps benchmark measures every step of an admission's path, each making real
admissions (the timings themselves are not checked: they belong to the machine)."""

from __future__ import annotations

import json

import pytest

from benchmarks import engine_steps

STEPS = ("ping", "command", "run", "frame", "decision", "checks", "admit")


@pytest.mark.redis
def test_a_small_run_reports_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_steps.main(["--json", "--ops", "100", "--rounds", "2"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {f"{step}_client_us" for step in STEPS} | {"engine_us"}
    assert all(figures[f"{step}_client_us"] > 0 for step in STEPS)
    assert figures["engine_us"] == figures["admit_client_us"] - figures["command_client_us"]
