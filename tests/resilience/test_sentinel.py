"""Sentinel: discovery past a stalled Sentinel, and a failover in the middle of a login storm.

The deployment (a master, a replica, three Sentinels) is started by the tests on ports of their
own and stopped at the end. ``HALO_GATE_FAILOVER_TASKS`` sets the storm's size (default 24
tasks per engine, two engines standing for two workers).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine, StoreUnavailable, connect
from halo_gate.licensing.failover import CHANNEL

from ..conftest import unique_instance
from . import sentinel
from .servers import servers

pytestmark = [pytest.mark.redis, pytest.mark.slow]

TASKS = int(os.environ.get("HALO_GATE_FAILOVER_TASKS", "24"))
SLOTS = 5
HOLDERS = 3  # admitted (and replicated) before the failover
# Decisions sent this long after the test itself heard of the switch must reach the new master;
# the engines hear of it from the same Sentinels at the same moment.
GRACE = 0.25
# Releases acknowledged by the old master after the promotion are lost with it, so the slots
# they gave back stay taken on the new master until they idle out: a short idle timeout lets
# the storm go on past them.
IDLE = 2
SETTLE = IDLE + 1.5  # the storm goes on this long after the switch
SWITCH_WITHIN = 20.0


@pytest.fixture(scope="module")
def deployment() -> Iterator[sentinel.Deployment]:
    with servers() as started:
        yield sentinel.start(started)


async def test_a_stalled_sentinel_is_passed_over(deployment: sentinel.Deployment) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepts the connection and never answers

    listener = await asyncio.start_server(stall, "127.0.0.1", 0)
    stalled = listener.sockets[0].getsockname()[1]
    store = connect(deployment.url(first=stalled))
    engine = LicenceEngine(store, instance=unique_instance())
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        async with asyncio.timeout(5):
            await engine.configure(concurrent_seats=20, named_seats=0)
            admitted = await asyncio.gather(
                *(engine.admit(f"p{i}@x.org", f"s{i}") for i in range(10))
            )
        elapsed = loop.time() - started
    finally:
        await store.aclose()
        for writer in accepted:
            writer.close()
        listener.close()
        await listener.wait_closed()
    assert [decision.outcome for decision in admitted] == ["admitted"] * 10
    # One wait of the Sentinel timeout (0.5 s), then the healthy Sentinel is asked first.
    assert elapsed < 2.0


async def test_a_master_fenced_by_min_replicas_answers_unavailable_at_once(
    deployment: sentinel.Deployment,
) -> None:
    # min-replicas-to-write is what fences an old master cut off from its replicas; asking for
    # more replicas than there are fences this one, and it must cost no hang and no 500.
    store = connect(deployment.url())
    engine = LicenceEngine(store, instance=unique_instance())
    port = deployment.master_port()
    async with sentinel.client(port) as master:
        try:
            await engine.configure(concurrent_seats=2, named_seats=0)
            await master.config_set("min-replicas-to-write", 2)
            started = asyncio.get_running_loop().time()
            with pytest.raises(StoreUnavailable, match="NOREPLICAS"):
                await engine.admit("bob@x.org", "bob-1")
            assert asyncio.get_running_loop().time() - started < 1.0
        finally:
            await master.config_set("min-replicas-to-write", 0)
        try:
            assert (await engine.admit("bob@x.org", "bob-2")).outcome == "admitted"
        finally:
            await store.aclose()


@dataclass
class Answer:
    sent: float
    kind: str  # "admit", "release" or "heartbeat"
    person: str
    session: str
    outcome: str
    in_use: int = 0


class Storm:
    """Newcomers taking and giving back slots in a loop, and holders heartbeating."""

    def __init__(self, engines: list[LicenceEngine]) -> None:
        self.engines = engines
        self.answers: list[Answer] = []
        self.failures = 0
        self.loop = asyncio.get_running_loop()
        # Tasks stop at this flag: a cancellation can be lost inside redis-py's wait_for on
        # Python 3.11, so it is not the only way to stop them.
        self.running = True

    async def newcomer(self, engine: LicenceEngine) -> None:
        while self.running:
            person, session = f"n-{uuid.uuid4().hex[:8]}@x.org", uuid.uuid4().hex
            sent = self.loop.time()
            try:
                decision = await engine.admit(person, session)
            except StoreUnavailable:
                # The admission may have run all the same: give the session back, as the
                # gateway does after a failed sign-in.
                self.failures += 1
                await self.release(engine, person, session)
                continue
            answer = Answer(sent, "admit", person, session, decision.outcome, decision.in_use)
            self.answers.append(answer)
            if not decision.admitted:
                await asyncio.sleep(0.005)
                continue
            await asyncio.sleep(0.01)
            await self.release(engine, person, session)

    async def release(self, engine: LicenceEngine, person: str, session: str) -> None:
        while self.running:
            sent = self.loop.time()
            try:
                released = await engine.release(person, session)
            except StoreUnavailable:
                self.failures += 1
                await asyncio.sleep(0.01)
                continue
            outcome = "released" if released else "not_live"
            self.answers.append(Answer(sent, "release", person, session, outcome))
            return

    async def holder(self, engine: LicenceEngine, person: str, session: str) -> None:
        while self.running:
            sent = self.loop.time()
            try:
                decision = await engine.heartbeat(person, session)
            except StoreUnavailable:
                self.failures += 1
            else:
                answer = Answer(sent, "heartbeat", person, session, decision.outcome)
                self.answers.append(answer)
            await asyncio.sleep(0.02)


async def switch_heard(deployment: sentinel.Deployment, heard: asyncio.Future[float]) -> None:
    """Resolves ``heard`` with the time the first Sentinel announces a new master."""
    clients = [Redis(host="127.0.0.1", port=s.port) for s in deployment.sentinels]
    pubsubs = [client.pubsub() for client in clients]
    try:
        for pubsub in pubsubs:
            await pubsub.subscribe(CHANNEL)
        loop = asyncio.get_running_loop()
        while not heard.done():
            for pubsub in pubsubs:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.01)
                if message is not None and not heard.done():
                    heard.set_result(loop.time())
    finally:
        for pubsub in pubsubs:
            await pubsub.aclose()
        for client in clients:
            await client.aclose()


async def test_a_failover_mid_storm_admits_nobody_past_the_pool(
    deployment: sentinel.Deployment,
) -> None:
    instance = unique_instance()
    stores = [connect(deployment.url()), connect(deployment.url())]  # two workers
    # Every newcomer is a new person who never asks again: with the waiting line on, each
    # refused one would keep a place (and freed slots) for the grace, so it is off here.
    engines = [
        LicenceEngine(
            store, instance=instance, idle_timeout=IDLE, session_max_age=3600, queue=False
        )
        for store in stores
    ]
    old_port = deployment.master_port()
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    storm = Storm(engines)
    try:
        for engine in engines:
            await engine.configure(concurrent_seats=SLOTS, named_seats=0)
        holders = [(f"h{i}@x.org", f"held-{i}") for i in range(HOLDERS)]
        for person, session in holders:
            assert (await engines[0].admit(person, session)).outcome == "admitted"
        async with sentinel.client(old_port) as master:
            # Acknowledged before the failover: on the replica too (replication is async).
            assert await master.execute_command("WAIT", 1, 2000) == 1  # type: ignore[no-untyped-call]

        for _ in range(TASKS):
            for engine in engines:
                tasks.append(asyncio.create_task(storm.newcomer(engine)))
        for number, (person, session) in enumerate(holders):
            engine = engines[number % len(engines)]
            tasks.append(asyncio.create_task(storm.holder(engine, person, session)))
        heard: asyncio.Future[float] = loop.create_future()
        tasks.append(asyncio.create_task(switch_heard(deployment, heard)))
        await asyncio.sleep(0.5)  # the storm is under way on the old master
        assert storm.answers, "the storm made no decision before the failover"
        async with sentinel.client(deployment.sentinels[0].port) as first:
            assert await first.sentinel_failover(sentinel.SERVICE)
        try:
            switched = await asyncio.wait_for(heard, SWITCH_WITHIN)
        except TimeoutError:
            pytest.fail(f"Sentinel announced no new master within {SWITCH_WITHIN} s.")
        await asyncio.sleep(SETTLE)
    finally:
        storm.running = False
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=5)

    try:
        new_port = deployment.master_port()
        assert new_port != old_port
        # Once the new master serves, every acknowledged decision is on it: none was made on the
        # old master, where a second pool's worth of people could have been admitted.
        async with sentinel.client(new_port) as master:
            events: Any = await master.xrange(engines[0].keys.audit)
        recorded = {
            (fields[b"event"].decode(), fields[b"session"].decode()) for _, fields in events
        }
        after = [a for a in storm.answers if a.sent >= switched + GRACE]
        admitted_after = [a for a in after if a.kind == "admit" and a.outcome == "admitted"]
        released_after = [a for a in after if a.kind == "release" and a.outcome == "released"]
        outcomes = sorted({(a.kind, a.outcome) for a in after})
        assert admitted_after, f"no admission on the new master: {outcomes}, {storm.failures}"
        lost = [a for a in admitted_after if ("admitted", a.session) not in recorded]
        lost += [a for a in released_after if ("released", a.session) not in recorded]
        # Listed with their time after the switch: an empty list is the proof.
        assert [(round(a.sent - switched, 3), a.kind, a.session) for a in lost] == []
        assert all(a.in_use <= SLOTS for a in storm.answers)
        usage = await engines[0].usage()
        assert usage.in_use <= SLOTS
        # Sessions acknowledged before the failover survive it (or come back at a heartbeat).
        for person, session in holders:
            outcome = (await engines[0].heartbeat(person, session)).outcome
            assert outcome in ("renewed", "readmitted")
        for store in stores:
            pool: Any = getattr(store, "connection_pool", None)
            assert pool.switches == 1
    finally:
        for store in stores:
            await store.aclose()
