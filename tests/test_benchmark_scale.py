"""The scale benchmark runs on a private server of its own: every expired holder is culled, a
call at a time, and both lines are as long as asked (the timings themselves are not checked:
they belong to the machine)."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import scale


@pytest.mark.slow
def test_a_small_run_culls_every_expired_holder_and_fills_both_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    assert scale.main(["--json", "--people", "300", "--waiters", "60", "--rounds", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["live"]["in_use"] == 300
    assert figures["expired"]["calls_until_culled"] > 0  # it stops once none is left
    assert figures["expired"]["calls"] > 300 // 32
    assert (figures["line"]["waiting_plain"], figures["line"]["waiting_rules"]) == (60, 60)
    for phase in ("fill", "live", "expired"):
        assert figures[phase]["calls_over_5ms"] <= figures[phase]["calls_over_1ms"]
    assert figures["line"]["polling"]["admissions"] > 0
