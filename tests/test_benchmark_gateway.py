"""The gateway benchmark still runs against the current middleware (figures are not checked)."""

from __future__ import annotations

import pytest

from benchmarks import gateway


@pytest.mark.redis
def test_in_process_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert gateway.main(["--skip-http", "--rounds", "1", "--asgi-requests", "50"]) == 0
    report = capsys.readouterr().out
    for line in ("HaloGate", "bare", "SessionMiddleware", "HaloGate / bare"):
        assert line in report
