"""The console benchmark runs and reports every read with its longest Redis call (the figures
themselves are not checked: they belong to the machine)."""

from __future__ import annotations

import json

import pytest
from redis import Redis

from benchmarks import admin
from tests.conftest import REDIS_URL


@pytest.mark.slow
@pytest.mark.redis
def test_a_small_run_reports_each_read_and_puts_the_slowlog_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = Redis.from_url(REDIS_URL)
    before = server.config_get("slowlog-log-slower-than")
    argv = ["--json", "--sessions", "600", "--waiters", "5", "--seconds", "2", "--rounds", "1"]
    assert admin.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sessions"] == 600 and result["waiters"] == 5
    reads = {row["read"]: row for row in result["reads"]}
    assert len(reads) == len(admin.reads(600))
    assert all(row["commands"] >= 1 for row in reads.values())
    assert result["p99_ms_without_console"] > 0 and result["p99_ratio"] > 0
    assert server.config_get("slowlog-log-slower-than") == before
    server.close()
