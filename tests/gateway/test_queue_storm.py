"""A fairness storm through a real ``uvicorn --workers 2`` on the real Redis.

People arrive in a known order while the pool's 5 slots are held; then every waiter polls at
once, over new connections (so both workers answer), while the holders sign out one at a time
and newcomers arrive halfway through. Admissions must follow arrival order exactly (any
inversion fails), nobody is ever admitted past the pool, and no newcomer overtakes anyone.

``HALO_GATE_STORM_PEOPLE`` (default 24; the README's figure is from 60) sets how many arrive
first. Each poll carries a waiter's cookie of its own (as a new tab of the same person would),
so that the workers' memory of a refusal never delays the storm: the place is the person's.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine
from halo_gate.session import Session, SessionCodec, new_session_id
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import NO_IDP, SECRET, uvicorn_process

pytestmark = pytest.mark.slow

SLOTS = 5
PEOPLE = int(os.environ.get("HALO_GATE_STORM_PEOPLE", "24"))
NEWCOMERS = max(2, PEOPLE // 6)
POLL_PAUSE = 0.2  # seconds between one waiter's polls
STEP_TIMEOUT = 20.0  # seconds a freed slot may take to reach the head of the line


@pytest.fixture
def workers() -> Iterator[tuple[str, str]]:
    instance = unique_instance()
    settings = {
        **NO_IDP,
        "REDIS_URL": REDIS_URL,
        "INSTANCE": instance,
        "CONCURRENT_SEATS": str(SLOTS),
        "IDLE_TIMEOUT": "600",
        "QUEUE_GRACE": "30",
        "QUEUE_OFFER": "30",
    }
    app = "examples.starlette_app:app"
    with uvicorn_process(app, settings, "--workers", "2", ready="/_halo/ready") as (url, _):
        yield url, instance


class Storm:
    def __init__(self, url: str) -> None:
        self.url = url
        self.codec = SessionCodec([SECRET], max_age=600, clock=time.time)
        # Each request on a new connection, so that both workers answer.
        self.client = httpx.AsyncClient(
            headers={"accept": "application/json"},
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=30,
        )
        self.admitted: list[tuple[str, str]] = []  # (person, session), in order

    async def poll(self, person: str) -> tuple[int, dict[str, object], str]:
        """One request as a waiter: a cookie with a heartbeat of 0, as the sign-in gives."""
        session_id = new_session_id()
        cookie = self.codec.encode(Session(session_id, person, "concurrent", 0))
        response = await self.client.get(
            self.url + "/api/whoami", headers={"cookie": f"halo_session={cookie}"}
        )
        return response.status_code, response.json(), session_id

    async def wait(self, person: str) -> None:
        while True:
            status, body, session_id = await self.poll(person)
            if status == 200:
                self.admitted.append((person, session_id))
                return
            assert status == 503 and body["error"] == "pool_full", body
            await asyncio.sleep(POLL_PAUSE)


def inversions(order: list[str], expected: list[str]) -> int:
    rank = {person: index for index, person in enumerate(expected)}
    ranks = [rank[person] for person in order]
    return sum(1 for i, a in enumerate(ranks) for b in ranks[i + 1 :] if a > b)


async def test_admissions_follow_arrival_order_through_two_workers(
    workers: tuple[str, str],
) -> None:
    url, instance = workers
    store = Redis.from_url(REDIS_URL)
    engine = LicenceEngine(store, instance=instance, idle_timeout=600)
    storm = Storm(url)
    try:
        holders = [(f"holder{i}@example.com", f"holder-{i}") for i in range(SLOTS)]
        for person, session in holders:
            assert (await engine.admit(person, session)).admitted
        people = [f"p{i:02d}@example.com" for i in range(PEOPLE)]
        for place, person in enumerate(people, start=1):
            status, body, _ = await storm.poll(person)
            assert (status, body["position"], body["ahead"]) == (503, place, place - 1)
        waiting = [asyncio.create_task(storm.wait(person)) for person in people]
        newcomers = [f"new{i:02d}@example.com" for i in range(NEWCOMERS)]
        queue = list(holders)
        for step in range(PEOPLE + NEWCOMERS):
            if step == PEOPLE // 2:
                # Newcomers ask mid-storm, each right as a slot frees: they join at the end.
                for person in newcomers:
                    status, body, _ = await storm.poll(person)
                    assert status == 503
                    waiting.append(asyncio.create_task(storm.wait(person)))
            person, session = queue.pop(0)
            assert await engine.release(person, session)
            deadline = time.monotonic() + STEP_TIMEOUT
            while len(storm.admitted) < step + 1:
                assert time.monotonic() < deadline, f"slot {step} freed but nobody admitted"
                await asyncio.sleep(0.02)
            queue.append(storm.admitted[step])
            usage = await engine.usage()
            assert usage.in_use <= SLOTS, "admitted past the pool"
        await asyncio.gather(*waiting)

        order = [person for person, _ in storm.admitted]
        expected = people + newcomers
        assert inversions(order, expected) == 0, order
        assert order == expected
        # Nobody past the pool at any admission, by the audit stream's own count.
        entries: Any = await store.xrange(engine.keys.audit)
        admitted = [fields for _, fields in entries if fields[b"event"] == b"admitted"]
        assert max(int(fields[b"in_use"]) for fields in admitted) == SLOTS
        assert (await engine.usage()).queue_length == 0
    finally:
        await storm.client.aclose()
        await drop_instance(store, instance)
        await store.aclose()
