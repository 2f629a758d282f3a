"""Real concurrency on the real server: processes x asyncio tasks racing for k slots.

``HALO_GATE_STORM_ROUNDS`` (default 3) sets how many times each storm is repeated.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Iterator
from multiprocessing.pool import Pool
from typing import Any

import pytest
from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine

from ..conftest import REDIS_URL, drop_instance, unique_instance
from .storm import Job, Result, Task, ready, run

PROCESSES = 2
TASKS = 200
ROUNDS = int(os.environ.get("HALO_GATE_STORM_ROUNDS", "3"))
IDLE = 1800
LIVE = ("admitted", "renewed", "readmitted")


@pytest.fixture(scope="module")
def workers() -> Iterator[Pool]:
    pool = multiprocessing.get_context("spawn").Pool(PROCESSES)
    # Every worker is started before the first storm, so that each storm's jobs run in parallel.
    while len(set(pool.map(ready, range(PROCESSES), 1))) < PROCESSES:
        pass
    yield pool
    pool.close()
    pool.join()


@pytest.fixture
async def engine(real_store: Redis) -> AsyncIterator[LicenceEngine]:
    instance = unique_instance()
    yield LicenceEngine(real_store, instance=instance)
    await drop_instance(real_store, instance)


def soon() -> float:
    """The moment the next storm starts: room for each process to open its connections."""
    return time.time() + 0.6


async def storm(
    workers: Pool,
    engine: LicenceEngine,
    per_process: list[list[Task]],
    clock_offset: float = 0,
    start_at: float | None = None,
    harvest_idle: int = 0,
) -> list[Result]:
    """Runs each process's tasks at the same moment; returns every result."""
    start_at = start_at or soon()
    jobs = [
        Job(REDIS_URL, engine.keys.instance, clock_offset, start_at, tuple(tasks), harvest_idle)
        for tasks in per_process
    ]
    answers = await asyncio.to_thread(workers.map, run, jobs, 1)
    assert len({pid for pid, _ in answers}) == PROCESSES, "the storms did not run in parallel"
    return [result for _, results in answers for result in results]


def live_people(results: list[Result]) -> set[str]:
    """People whose last answer left them holding a licence."""
    last = {r.person: r.outcome for r in results if r.call in ("admit", "heartbeat")}
    return {person for person, outcome in last.items() if outcome in LIVE}


def assert_never_over(results: list[Result], slots: int) -> None:
    reported = [r.in_use for r in results if r.in_use >= 0]
    assert reported and max(reported) <= slots


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_exactly_k_of_many_concurrent_admissions_succeed(
    workers: Pool, engine: LicenceEngine, round_: int
) -> None:
    slots = (1, 7, 50, 199)[round_ % 4]
    await engine.configure(concurrent_seats=slots, named_seats=0)
    per_process = [
        [Task("admit", f"p{w}-{i}@x.org", f"s{w}-{i}") for i in range(TASKS)]
        for w in range(PROCESSES)
    ]
    results = await storm(workers, engine, per_process)

    outcomes = [r.outcome for r in results]
    assert outcomes.count("admitted") == slots
    assert outcomes.count("pool_full") == PROCESSES * TASKS - slots
    assert_never_over(results, slots)
    usage = await engine.usage()
    assert (usage.in_use, usage.denials_24h, usage.peak_24h) == (
        slots,
        PROCESSES * TASKS - slots,
        slots,
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_heartbeats_racing_expiry_never_exceed_k(
    workers: Pool, engine: LicenceEngine, round_: int
) -> None:
    slots = 20
    await engine.configure(concurrent_seats=slots, named_seats=0)
    seconds, micros = await engine.store.time()
    admitted_at = seconds + micros / 1e6
    for i in range(slots):
        assert (await engine.admit(f"h{i}@x.org", f"h{i}")).admitted
    per_process: list[list[Task]] = [[] for _ in range(PROCESSES)]
    for i in range(slots):
        per_process[i % PROCESSES].append(Task("heartbeat", f"h{i}@x.org", f"h{i}", repeat=3))
    for w, tasks in enumerate(per_process):
        tasks += [Task("usage", repeat=5) for _ in range(10)]
        tasks += [
            Task("admit", f"n{w}-{i}@x.org", f"n{w}-{i}", repeat=3)
            for i in range(TASKS - len(tasks))
        ]

    # The holders' sessions reach their idle timeout a few milliseconds into the storm (later
    # in each round), so heartbeats, expiry and newcomers' admissions all meet at the edge.
    start_at = soon()
    edge = 0.005 * (round_ + 1)
    offset = admitted_at + IDLE - start_at - edge
    results = await storm(workers, engine, per_process, clock_offset=offset, start_at=start_at)

    assert_never_over(results, slots)
    engine.clock_offset = offset
    usage = await engine.usage()
    assert usage.in_use == len(live_people(results)) <= slots


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_releases_racing_admissions_never_exceed_k(
    workers: Pool, engine: LicenceEngine, round_: int
) -> None:
    slots = 20
    await engine.configure(concurrent_seats=slots, named_seats=0)
    for i in range(slots):
        assert (await engine.admit(f"h{i}@x.org", f"h{i}")).admitted
    per_process: list[list[Task]] = [[] for _ in range(PROCESSES)]
    for i in range(slots):
        per_process[i % PROCESSES].append(Task("release", f"h{i}@x.org", f"h{i}"))
    for w, tasks in enumerate(per_process):
        tasks += [Task("usage", repeat=5) for _ in range(10)]
        tasks += [
            Task("admit", f"n{w}-{i}@x.org", f"n{w}-{i}", repeat=5)
            for i in range(TASKS - len(tasks))
        ]
    results = await storm(workers, engine, per_process)

    assert_never_over(results, slots)
    assert [r.outcome for r in results].count("released") == slots
    newcomers = live_people(results)
    assert 0 < len(newcomers) <= slots
    usage = await engine.usage()
    assert usage.in_use == len(newcomers)


# Department pools: people in overlapping groups racing for reserved, capped and shared slots.

POOL_SLOTS = 40
RESERVE = {"sd": 10, "vip": 5}
CAP = {"hr": 12, "fin": 8, "sd": 14}
# Overlapping memberships, cycled over the people of a storm.
MEMBERSHIPS: tuple[tuple[str, ...], ...] = (
    (),
    ("sd",),
    ("hr",),
    ("hr", "fin"),
    ("sd", "hr"),
    ("vip", "fin"),
    ("fin",),
    ("vip", "sd"),
)


def groups_of(i: int) -> tuple[str, ...]:
    return MEMBERSHIPS[i % len(MEMBERSHIPS)]


async def assert_pools_hold(engine: LicenceEngine, live: dict[str, tuple[str, ...]]) -> None:
    """The rules hold for the people left holding a slot, whose groups are given."""
    usage = await engine.usage()
    assert usage.in_use == len(live) <= POOL_SLOTS
    reserved_held = 0
    for group in {*RESERVE, *CAP}:
        figures = usage.groups[group]
        members = sum(1 for groups in live.values() if group in groups)
        assert figures.in_use == members, group
        assert figures.in_use <= CAP.get(group, POOL_SLOTS), f"{group} over its cap"
        assert figures.in_reserve <= RESERVE.get(group, 0), f"{group} over its reservation"
        assert figures.in_reserve + figures.in_shared <= figures.in_use
        reserved_held += figures.in_reserve
    shared = POOL_SLOTS - sum(RESERVE.values())
    assert usage.in_use - reserved_held <= shared, "the shared part took reserved slots"


def refused_while_reserved_room(
    engine_usage: Any, results: list[Result], people: dict[str, tuple[str, ...]]
) -> list[str]:
    """People refused pool_full although a reservation of theirs was not full at the end (in a
    storm where nobody leaves, counts only grow, so it was not full when they were refused)."""
    return [
        r.person
        for r in results
        if r.outcome == "pool_full"
        and any(
            engine_usage.groups[g].in_reserve < RESERVE[g] for g in people[r.person] if g in RESERVE
        )
    ]


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_pool_rules_hold_under_a_storm_of_admissions(
    workers: Pool, engine: LicenceEngine, round_: int
) -> None:
    await engine.configure(
        concurrent_seats=POOL_SLOTS, named_seats=0, pool_reserve=RESERVE, pool_cap=CAP
    )
    people: dict[str, tuple[str, ...]] = {}
    per_process: list[list[Task]] = [[] for _ in range(PROCESSES)]
    for w in range(PROCESSES):
        for i in range(TASKS):
            person = f"p{w}-{i}@x.org"
            people[person] = groups_of(i + w + round_)
            per_process[w].append(Task("admit", person, f"s{w}-{i}", groups=people[person]))
    results = await storm(workers, engine, per_process)

    assert_never_over(results, POOL_SLOTS)
    live = {p: people[p] for p in live_people(results)}
    outcomes = [r.outcome for r in results]
    assert outcomes.count("admitted") == len(live)
    assert "group_cap" in outcomes and "pool_full" in outcomes
    await assert_pools_hold(engine, live)
    usage = await engine.usage()
    assert refused_while_reserved_room(usage, results, people) == []
    assert usage.groups["sd"].in_reserve == RESERVE["sd"]  # the storm reached reservations


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_pool_rules_hold_while_releases_race_admissions(
    workers: Pool, engine: LicenceEngine, round_: int
) -> None:
    await engine.configure(
        concurrent_seats=POOL_SLOTS, named_seats=0, pool_reserve=RESERVE, pool_cap=CAP
    )
    people: dict[str, tuple[str, ...]] = {}
    holders = []
    for i in range(60):
        person = f"h{i}@x.org"
        people[person] = groups_of(i + round_)
        if (await engine.admit(person, f"h{i}", groups=people[person])).admitted:
            holders.append((person, f"h{i}"))
    per_process: list[list[Task]] = [[] for _ in range(PROCESSES)]
    for n, (person, session) in enumerate(holders):
        per_process[n % PROCESSES].append(Task("release", person, session))
    for w, tasks in enumerate(per_process):
        tasks += [Task("usage", repeat=3) for _ in range(5)]
        for i in range(TASKS - len(tasks)):
            person = f"n{w}-{i}@x.org"
            people[person] = groups_of(i + w)
            tasks.append(Task("admit", person, f"n{w}-{i}", repeat=4, groups=people[person]))
    results = await storm(workers, engine, per_process)

    assert_never_over(results, POOL_SLOTS)
    assert [r.outcome for r in results].count("released") == len(holders)
    live = {p: people[p] for p in live_people(results)}
    await assert_pools_hold(engine, live)


# Harvesting: newcomers, and holders coming back, racing for the slots of idle holders.

HARVEST = 600


@pytest.mark.parametrize("rules", [False, True], ids=["plain", "pools"])
@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_harvesting_storms_never_admit_past_the_pool(
    workers: Pool, engine: LicenceEngine, round_: int, rules: bool
) -> None:
    slots = POOL_SLOTS if rules else 20
    await engine.configure(
        concurrent_seats=slots,
        named_seats=0,
        pool_reserve=RESERVE if rules else {},
        pool_cap=CAP if rules else {},
    )
    people: dict[str, tuple[str, ...]] = {}
    holders = []
    for i in range(slots + 20):
        person = f"h{i}@x.org"
        people[person] = groups_of(i + round_) if rules else ()
        if (await engine.admit(person, f"h{i}", groups=people[person])).admitted:
            holders.append((person, f"h{i}"))
    # Every holder is idle past the threshold; some of them come back during the storm.
    per_process: list[list[Task]] = [[] for _ in range(PROCESSES)]
    for n, (person, session) in enumerate(holders[: len(holders) // 2]):
        task = Task("heartbeat", person, session, repeat=3, groups=people[person])
        per_process[n % PROCESSES].append(task)
    for w, tasks in enumerate(per_process):
        tasks += [Task("usage", repeat=3) for _ in range(5)]
        for i in range(TASKS - len(tasks)):
            person = f"n{w}-{i}@x.org"
            people[person] = groups_of(i + w) if rules else ()
            # Refused, a newcomer asks again as a waiter's page does (at most twice).
            tasks.append(Task("admit", person, f"n{w}-{i}", repeat=3, groups=people[person]))
    engine.clock_offset = HARVEST + 100
    results = await storm(workers, engine, per_process, engine.clock_offset, None, HARVEST)

    assert_never_over(results, slots)
    entries: Any = await engine.store.xrange(engine.keys.audit)
    harvested = [
        f[b"user"].decode()
        for _, f in entries
        if f[b"event"] == b"ended" and f[b"reason"] == b"harvested"
    ]
    taken = sum(1 for r in results if r.outcome in ("admitted", "readmitted"))
    assert len(harvested) > 0, sorted({(r.call, r.outcome) for r in results})
    if rules:
        assert len(harvested) <= taken
        _, live = await engine.sessions()
        await assert_pools_hold(engine, {s.person: people[s.person] for s in live})
    else:
        # The pool was full: each admission took exactly one idle holder's slot.
        assert len(harvested) == taken
        assert (await engine.usage()).in_use == slots
