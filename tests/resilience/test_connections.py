"""Connection faults that must not cost a decision: pooled connections the server closed, and
a Sentinel that stalls."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError

from halo_gate.licensing import LicenceEngine, connect

from ..conftest import unique_instance
from .servers import servers

pytestmark = pytest.mark.redis

# Redis closes connections idle for longer than its `timeout` (seconds); its cron notices
# within a second, so a wait of IDLE_WAIT outlasts it.
SERVER_TIMEOUT = 1
IDLE_WAIT = 2.3
CONNECTIONS = 4


async def decide_concurrently(engine: LicenceEngine, round_: int) -> list[str]:
    calls = [engine.heartbeat(f"p{i}@x.org", f"s{i}") for i in range(CONNECTIONS)]
    return [decision.outcome for decision in await asyncio.gather(*calls)]


async def test_pooled_connections_closed_by_the_server_are_replaced_without_an_error() -> None:
    with servers() as started:
        server = started.redis(f"timeout {SERVER_TIMEOUT}")
        store = connect(server.url)
        plain = Redis.from_pool(BlockingConnectionPool.from_url(server.url))
        engine = LicenceEngine(store, instance=unique_instance())
        try:
            await engine.configure(concurrent_seats=CONNECTIONS, named_seats=0)
            assert await decide_concurrently(engine, 0) == ["readmitted"] * CONNECTIONS
            await plain.ping()
            for round_ in (1, 2):
                await asyncio.sleep(IDLE_WAIT)  # the server closes every idle connection
                assert await decide_concurrently(engine, round_) == ["renewed"] * CONNECTIONS
            # Without the retry the same wait fails the first command: the test can fail.
            with pytest.raises(ConnectionError):
                await plain.ping()
            info = await store.info("stats")
            assert int(info["total_connections_received"]) > 3 * CONNECTIONS
        finally:
            await store.aclose()
            await plain.aclose()
