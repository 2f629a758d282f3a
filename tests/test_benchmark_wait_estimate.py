"""The wait-estimate calibration runs and compares both estimates on the same polls."""

from __future__ import annotations

import json

import pytest

from benchmarks import wait_estimate


def test_a_short_calibration_reports_both_estimates(capsys: pytest.CaptureFixture[str]) -> None:
    assert wait_estimate.main(["--json", "--days", "5", "--seeds", "1", "--scale", "0.3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] > 0
    for name in ("old", "current"):
        assert set(result[name]) == {"median_error_s", "p90_error_s", "in_range", "unknown"}
    # The current estimate says something for every poll the old one could not place.
    assert result["current"]["unknown"] <= result["old"]["unknown"]
