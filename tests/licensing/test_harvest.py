"""Harvesting idle licences, as a contract every store keeps (real Redis and fakeredis): the
README's "Harvesting idle licences" rules. Time passes through ``engine.clock_offset``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from halo_gate.licensing import LicenceEngine, Store
from halo_gate.licensing.records import closed_sessions

from ..conftest import drop_instance, unique_instance
from .test_engine import IDLE, advance, audit_events

HARVEST = 600
SD, HR = "service-desk", "hr"


@pytest.fixture
async def engine(store: Store) -> AsyncIterator[LicenceEngine]:
    instance = unique_instance()
    yield LicenceEngine(
        store, instance=instance, idle_timeout=IDLE, session_max_age=43200, harvest_idle=HARVEST
    )
    await drop_instance(store, instance)


async def ask(engine: LicenceEngine, who: str, *groups: str) -> str:
    """The outcome of a heartbeat of ``who``'s session (an admission when it has none)."""
    return (await engine.heartbeat(f"{who}@x.org", who, groups=groups)).outcome


def harvests(events: list[dict[str, str]]) -> list[str]:
    return [e["user"] for e in events if e["event"] == "ended" and e["reason"] == "harvested"]


async def test_the_longest_idle_holder_yields_to_a_newcomer(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0)
    assert await ask(engine, "a") == "readmitted"
    advance(engine, 100)
    assert await ask(engine, "b") == "readmitted"
    advance(engine, HARVEST)  # a idle 700 s, b 600 s: both past the threshold
    taken = await engine.admit("c@x.org", "c")
    assert (taken.outcome, taken.in_use, taken.harvested_sessions) == ("admitted", 2, ("a",))
    assert await ask(engine, "b") == "renewed"
    assert harvests(await audit_events(engine)) == ["a@x.org"]
    today = int((await engine.store.time())[0] + engine.clock_offset) // 86400
    closed = [row async for row in closed_sessions(engine, today - 1, today + 1)]
    assert [(row.person, row.end_reason) for row in closed] == [("a@x.org", "harvested")]
    assert (await engine.counters())["released:harvested"] == 1
    assert (await engine.usage()).harvested_24h == 1

    # a's next request waits in line like anyone's, told why.
    refused = await engine.heartbeat("a@x.org", "a")
    assert (refused.outcome, refused.reason, refused.position) == ("pool_full", "harvested", 1)
    await engine.release("c@x.org", "c")
    back = await engine.heartbeat("a@x.org", "a")
    assert (back.outcome, back.reason) == ("readmitted", "")
    assert (await engine.usage()).in_use == 2


async def test_nobody_below_the_threshold_is_harvested(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0)
    assert await ask(engine, "a") == "readmitted"
    assert await ask(engine, "b") == "readmitted"
    advance(engine, HARVEST - 2)
    refused = await engine.admit("c@x.org", "c")
    assert (refused.outcome, refused.harvested_sessions) == ("pool_full", ())
    assert harvests(await audit_events(engine)) == []
    usage = await engine.usage()
    assert (usage.in_use, usage.harvested_24h) == (2, 0)


async def test_harvests_are_counted_per_person_for_a_day(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    assert (await engine.admit("a@x.org", "a1")).admitted
    assert (await engine.admit("a@x.org", "a2")).admitted  # two sessions, one slot
    advance(engine, HARVEST)
    taken = await engine.admit("b@x.org", "b")
    assert sorted(taken.harvested_sessions) == ["a1", "a2"]
    usage = await engine.usage()
    assert (usage.harvested_24h, usage.denials_24h) == (1, 0)
    assert usage.as_json()["concurrent"]["harvested_24h"] == 1

    advance(engine, HARVEST)
    assert await ask(engine, "c") == "readmitted"  # b yields in turn
    assert (await engine.usage()).harvested_24h == 2
    advance(engine, 86400)
    assert (await engine.usage()).harvested_24h == 0


async def test_a_threshold_equal_to_the_idle_timeout_changes_nothing(store: Store) -> None:
    instance = unique_instance()
    engine = LicenceEngine(store, instance=instance, idle_timeout=IDLE, harvest_idle=IDLE)
    try:
        await engine.configure(concurrent_seats=1, named_seats=0)
        assert await ask(engine, "a") == "readmitted"
        advance(engine, IDLE - 1)
        assert (await engine.admit("c@x.org", "c")).outcome == "pool_full"
        advance(engine, 1)  # a idles out: the slot frees as it always has
        assert (await engine.admit("c@x.org", "c2")).outcome == "admitted"
        assert harvests(await audit_events(engine)) == []
    finally:
        await drop_instance(store, instance)


async def test_named_seats_are_never_harvested(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1, named_users=["ann@x.org"])
    assert await ask(engine, "ann") == "readmitted"
    assert await ask(engine, "bob") == "readmitted"
    advance(engine, HARVEST + 100)
    assert await ask(engine, "bob") == "renewed"  # bob is active, ann idle
    assert (await engine.admit("cat@x.org", "cat")).outcome == "pool_full"
    assert harvests(await audit_events(engine)) == []


async def test_a_reserved_slot_is_harvested_only_for_a_member(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0, pool_reserve=f"{SD}=1")
    assert await ask(engine, "d1", SD) == "readmitted"
    advance(engine, HARVEST + 1)
    assert await ask(engine, "h", HR) == "pool_full"  # d1's slot is the desk's
    assert await ask(engine, "d2", SD) == "readmitted"
    assert harvests(await audit_events(engine)) == ["d1@x.org"]


async def test_the_longest_idle_whose_slot_serves_the_asker_yields(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0, pool_reserve=f"{SD}=1")
    assert await ask(engine, "d1", SD) == "readmitted"  # the desk's reserved slot
    advance(engine, 10)
    assert await ask(engine, "x", HR) == "readmitted"  # the shared slot
    advance(engine, HARVEST)
    assert await ask(engine, "y", HR) == "readmitted"
    assert harvests(await audit_events(engine)) == ["x@x.org"]
    usage = await engine.usage()
    assert (usage.in_use, usage.groups[SD].in_use) == (2, 1)


async def test_a_groups_cap_holds_when_harvesting(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0, pool_cap=f"{HR}=1")
    assert await ask(engine, "z") == "readmitted"
    advance(engine, 10)
    assert await ask(engine, "x", HR) == "readmitted"
    advance(engine, HARVEST)
    # z is idle longest, but freeing z would leave HR's cap full: x, of HR, yields.
    assert await ask(engine, "y", HR) == "readmitted"
    assert harvests(await audit_events(engine)) == ["x@x.org"]
    assert (await engine.usage()).groups[HR].in_use == 1


async def test_the_line_keeps_its_order(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    assert await ask(engine, "a") == "readmitted"
    assert await ask(engine, "w1") == "pool_full"
    assert await ask(engine, "w2") == "pool_full"
    for _ in range(HARVEST // 100 - 1):
        advance(engine, 100)
        assert await ask(engine, "w1") == await ask(engine, "w2") == "pool_full"
    advance(engine, 100)  # a idle for the threshold
    newcomer = await engine.admit("new@x.org", "new")
    assert (newcomer.outcome, newcomer.position) == ("pool_full", 3)
    assert (await engine.heartbeat("w2@x.org", "w2")).position == 2
    assert await ask(engine, "w1") == "readmitted"
    assert harvests(await audit_events(engine)) == ["a@x.org"]
    refused = await engine.heartbeat("a@x.org", "a")
    assert (refused.reason, refused.position) == ("harvested", 3)


async def test_a_session_near_its_maximum_age_is_not_harvested(store: Store) -> None:
    # Its expiry is capped at its maximum age, which says nothing of its last renewal.
    instance = unique_instance()
    engine = LicenceEngine(
        store, instance=instance, idle_timeout=IDLE, session_max_age=3600, harvest_idle=HARVEST
    )
    try:
        await engine.configure(concurrent_seats=1, named_seats=0)
        assert await ask(engine, "a") == "readmitted"
        advance(engine, 1500)
        assert await ask(engine, "a") == "renewed"
        advance(engine, 3600 - 1500 - HARVEST - 100)
        assert await ask(engine, "a") == "renewed"  # expires at its maximum age, in 700 s
        advance(engine, 200)
        assert (await engine.admit("c@x.org", "c")).outcome == "pool_full"
        assert harvests(await audit_events(engine)) == []
    finally:
        await drop_instance(store, instance)


async def test_a_harvest_threshold_below_zero_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="harvest_idle"):
        LicenceEngine(store, harvest_idle=-1)
