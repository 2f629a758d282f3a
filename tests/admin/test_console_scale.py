"""At 10,000 live sessions, no console or API read touches every session: the commands each
read makes are counted with MONITOR (which also shows the commands a Lua script runs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from benchmarks.engine import rate
from halo_gate.admin.operations import Operations
from halo_gate.config import Settings
from halo_gate.licensing import LicenceEngine
from tests.conftest import REDIS_URL, drop_instance, unique_instance

SESSIONS = 10_000
NAMED = 50


def person(i: int) -> str:
    return f"p{i:05d}@example.org"


@asynccontextmanager
async def monitored(tag: str) -> AsyncIterator[list[str]]:
    """The commands naming the installation's keys, from any client or script, while inside."""
    seen: list[str] = []
    client = Redis.from_url(REDIS_URL)
    ready = asyncio.Event()

    async def listen() -> None:
        async with client.monitor() as monitor:
            ready.set()
            async for command in monitor.listen():
                if tag in command["command"]:
                    seen.append(command["command"])

    task = asyncio.create_task(listen())
    await ready.wait()
    await asyncio.sleep(0.2)
    try:
        yield seen
    finally:
        # Give MONITOR's stream time to deliver the last commands.
        await asyncio.sleep(0.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


@pytest.fixture
async def crowded() -> AsyncIterator[Operations]:
    instance = unique_instance()
    store = Redis.from_url(REDIS_URL)
    engine = LicenceEngine(store, instance=instance, idle_timeout=3600, queue_grace=3600)
    await engine.configure(
        concurrent_seats=SESSIONS - NAMED,
        named_seats=NAMED,
        named_users=[person(i) for i in range(NAMED)],
    )
    await rate(
        64,
        SESSIONS,
        lambda i: engine.admit(person(i), f"s{i}", user_agent="Firefox/128.0", address="10.0.0.1"),
    )
    for i in range(30):
        assert (await engine.admit(f"w{i}@example.org", f"w{i}")).position == i + 1
    settings = Settings.load(
        {},
        secret_key="a-test-signing-key-0123456789",
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="x",
        oidc_client_secret="x",
        redis_url=REDIS_URL,
        instance=instance,
    )
    yield Operations(engine, settings)
    await drop_instance(store, instance)
    await store.aclose()


READS: list[tuple[str, Callable[[Operations], Awaitable[Any]]]] = [
    ("licences page", lambda ops: ops.licences(limit=25)),
    ("licences page in the middle", lambda ops: ops.licences(offset=5000, limit=25)),
    ("sessions page", lambda ops: ops.sessions(limit=25)),
    ("queue page", lambda ops: ops.queue(limit=25)),
    ("usage", lambda ops: ops.usage()),
    ("named", lambda ops: ops.named()),
    ("capacity", lambda ops: ops.capacity()),
    ("events page", lambda ops: ops.events(limit=25)),
    ("a person's events", lambda ops: ops.events(limit=25, person=person(7000))),
    ("a search", lambda ops: ops.licences(search="p0700", limit=25)),
    ("history 24h", lambda ops: ops.history("24h")),
    ("history 7d", lambda ops: ops.history("7d")),
    ("end a session by its id", lambda ops: ops.end_session("s5001", by="test")),
    ("end a licence", lambda ops: ops.end_licence(person(5002), by="test")),
]


@pytest.mark.slow
@pytest.mark.redis
async def test_no_console_read_touches_every_session(crowded: Operations) -> None:
    tag = crowded.engine.keys.prefix
    for name, read in READS:
        async with monitored(tag) as seen:
            answer = await read(crowded)
        per_session = [c for c in seen if f"{tag}sessions:" in c or f"{tag}device:" in c]
        assert answer is not None, name
        # A page of 25 holders reads at most their sessions and their notes.
        assert len(per_session) <= 60, (name, len(per_session))
        assert len(seen) <= 400, (name, len(seen))
    # The old walk, for contrast: every holder's sessions hash, one command each (two holders
    # were ended above).
    async with monitored(tag) as seen:
        await crowded.engine.sessions()
    assert len([c for c in seen if f"{tag}sessions:" in c]) == SESSIONS - 2
    page = await crowded.licences(offset=5000, limit=25)
    assert len(page["licences"]) == 25 and page["total"] == SESSIONS - 2
    # The search and the person's events found what they were asked for.
    found = await crowded.licences(search="P0700", limit=25)
    assert [h["person"] for h in found["licences"]] == [person(i) for i in range(7000, 7010)]
    assert found["total"] == 10
    mine = await crowded.events(limit=25, person=person(7000))
    assert [(e["event"], e["user"]) for e in mine["events"]] == [("admitted", person(7000))]
    assert mine["scanned"] == 1
