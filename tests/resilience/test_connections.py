"""The store's connections: ones the server closed are replaced without an error, a server
that stops answering is given up after the store's own socket timeout and never asked twice,
and the protocol is the one the engine reads, whatever redis-py's defaults."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError

from halo_gate.licensing import LicenceEngine, connect, options

from ..conftest import REDIS_URL, unique_instance
from .proxy import stalling_proxy
from .servers import servers

pytestmark = pytest.mark.redis

# Redis closes connections idle for longer than its `timeout` (seconds); its cron notices
# within a second, so a wait of IDLE_WAIT outlasts it.
SERVER_TIMEOUT = 1
IDLE_WAIT = 2.3
CONNECTIONS = 4
SOCKET_TIMEOUT = 0.5


async def decide_concurrently(engine: LicenceEngine) -> list[str]:
    calls = [engine.heartbeat(f"p{i}@x.org", f"s{i}") for i in range(CONNECTIONS)]
    return [decision.outcome for decision in await asyncio.gather(*calls)]


async def clients_connected(port: int) -> int:
    """Connections the server holds, counting the one that asks."""
    async with Redis(host="127.0.0.1", port=port) as asking:
        return len(await asking.client_list())


async def test_pooled_connections_closed_by_the_server_are_replaced_without_an_error() -> None:
    with servers() as started:
        server = started.redis(f"timeout {SERVER_TIMEOUT}")
        store = connect(server.url)
        engine = LicenceEngine(store, instance=unique_instance())
        try:
            await engine.configure(concurrent_seats=CONNECTIONS, named_seats=0)
            assert await decide_concurrently(engine) == ["readmitted"] * CONNECTIONS
            assert await clients_connected(server.port) > CONNECTIONS
            for _ in range(2):
                await asyncio.sleep(IDLE_WAIT)
                # The server closed every pooled connection: only the asking one is left.
                assert await clients_connected(server.port) == 1
                assert await decide_concurrently(engine) == ["renewed"] * CONNECTIONS
            info = await store.info("stats")
            assert int(info["total_connections_received"]) > 3 * CONNECTIONS
        finally:
            await store.aclose()


async def test_a_server_that_stops_answering_times_out_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(options, "SOCKET_TIMEOUT", SOCKET_TIMEOUT)
    with stalling_proxy() as proxy:
        store = connect(proxy.url)
        try:
            await store.ping()
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(10 * SOCKET_TIMEOUT):  # never waits forever
                    await store.ping()
            assert time.monotonic() - started >= SOCKET_TIMEOUT
            # A timed-out command may still run on the server: it is not sent again.
            assert proxy.accepted == 1
        finally:
            proxy.resume()
            await store.aclose()


async def test_the_store_speaks_resp2_whatever_the_library_default() -> None:
    store = connect(REDIS_URL)
    try:
        assert (await store.client_info())["resp"] == "2"
    finally:
        await store.aclose()
