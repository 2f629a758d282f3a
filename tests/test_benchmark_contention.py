"""The contention benchmark runs, and neither semaphore admits past the pool (the figures
themselves are not checked: they belong to the machine)."""

from __future__ import annotations

import json

import pytest

from benchmarks import contention


@pytest.mark.redis
def test_a_small_storm_runs_and_nobody_is_admitted_past_the_pool(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert contention.main(["--json", "--people", "60", "--slots", "3", "--backoff", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for name in ("halo_gate", "baseline"):
        assert summary[name]["over_admissions"] == 0
        assert 1 <= summary[name]["max_holders"] <= 3
    assert summary["halo_gate"]["retries"] == 0
