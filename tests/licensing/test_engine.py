"""The licence rules of DESIGN.md, as a contract every store must keep (real Redis and fakeredis).

Time passes through ``engine.clock_offset``, which the scripts add to Redis's own clock.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from halo_gate.licensing import LicenceEngine, StoreUnavailable, connect
from halo_gate.licensing.options import POOL_SIZE

from ..conftest import REDIS_URL, drop_instance, unique_instance

IDLE = 1800
MAX_AGE = 43200
COOLDOWN = 86400


def advance(engine: LicenceEngine, seconds: float) -> None:
    engine.clock_offset += seconds


async def now(engine: LicenceEngine) -> float:
    """The scripts' clock: Redis's TIME plus the offset."""
    seconds, micros = await engine.store.time()
    return seconds + micros / 1e6 + engine.clock_offset


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def audit_events(engine: LicenceEngine) -> list[dict[str, str]]:
    entries: Any = await engine.store.xrange(engine.keys.audit)
    return [{text(k): text(v) for k, v in fields.items()} for _, fields in entries]


def twin(engine: LicenceEngine, **settings: Any) -> LicenceEngine:
    """Another engine on the same installation, with other settings (dropped with it)."""
    other = LicenceEngine(engine.store, instance=engine.keys.instance, **settings)
    other.clock_offset = engine.clock_offset
    return other


# Named seats


async def test_named_person_admitted_with_pool_full_on_many_devices(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1, named_users=["ann@x.org"])
    assert (await engine.admit("bob@x.org", "bob-1")).outcome == "admitted"
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "pool_full"

    for device in range(3):
        decision = await engine.admit("ann@x.org", f"ann-{device}")
        assert (decision.outcome, decision.licence) == ("admitted", "named")
        assert decision.in_use == 1  # Ann is not in the pool

    usage = await engine.usage()
    assert (usage.named_assigned, usage.named_active, usage.in_use) == (1, 1, 1)
    renewed = await engine.heartbeat("ann@x.org", "ann-2")
    assert (renewed.outcome, renewed.licence) == ("renewed", "named")


async def test_named_person_admitted_with_no_pool_at_all(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=0, named_seats=1, named_users=["ann@x.org"])
    assert (await engine.admit("ann@x.org", "a")).licence == "named"
    assert (await engine.usage()).in_use == 0


async def test_assign_never_exceeds_seats(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=2)
    assert await engine.assign("a@x.org") == "assigned"
    assert await engine.assign("b@x.org") == "assigned"
    assert await engine.assign("c@x.org") == "no_seat"
    assert await engine.assign("a@x.org") == "already"
    refusal = (await audit_events(engine))[-1]
    assert (refusal["event"], refusal["user"], refusal["reason"]) == (
        "denied",
        "c@x.org",
        "no_seat",
    )
    usage = await engine.usage()
    assert (usage.named_seats, usage.named_assigned) == (2, 2)
    assert (await engine.admit("c@x.org", "c")).licence == "concurrent"


async def test_assign_moves_live_sessions_out_of_the_pool(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1)
    await engine.admit("bob@x.org", "bob-1")
    assert await engine.assign("bob@x.org") == "assigned"
    assert (await engine.usage()).in_use == 0
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "admitted"
    assert (await engine.heartbeat("bob@x.org", "bob-1")).licence == "named"


async def test_unassigned_seat_is_quarantined_for_the_cooldown(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=1)
    assert await engine.assign("ann@x.org") == "assigned"
    assert await engine.unassign("ann@x.org") is True
    assert await engine.unassign("ann@x.org") is False
    assert (await engine.usage()).named_quarantined == 1

    assert await engine.assign("bob@x.org") == "no_seat"
    assert await engine.assign("ann@x.org") == "assigned"  # the same person takes it back
    assert await engine.unassign("ann@x.org") is True

    advance(engine, COOLDOWN - 60)
    assert await engine.assign("bob@x.org") == "no_seat"
    advance(engine, 61)
    assert (await engine.usage()).named_quarantined == 0
    assert await engine.assign("bob@x.org") == "assigned"


async def test_quarantine_taken_back_never_exceeds_shrunk_seats(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=1)
    await engine.assign("ann@x.org")
    await engine.unassign("ann@x.org")
    await engine.resize(named_seats=0)
    assert await engine.assign("ann@x.org") == "no_seat"
    assert (await engine.usage()).named_assigned == 0


async def test_unassigned_person_keeps_sessions_while_a_slot_is_free(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1, named_users=["ann@x.org"])
    await engine.admit("ann@x.org", "ann-1")
    await engine.unassign("ann@x.org")
    usage = await engine.usage()
    assert (usage.in_use, usage.named_active) == (1, 0)
    renewed = await engine.heartbeat("ann@x.org", "ann-1")
    assert (renewed.outcome, renewed.licence) == ("renewed", "concurrent")


async def test_unassigned_person_loses_sessions_when_the_pool_is_full(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1, named_users=["ann@x.org"])
    await engine.admit("ann@x.org", "ann-1")
    await engine.admit("bob@x.org", "bob-1")
    await engine.unassign("ann@x.org")
    assert (await engine.usage()).in_use == 1
    assert (await engine.heartbeat("ann@x.org", "ann-1")).outcome == "pool_full"


async def test_group_member_auto_assigned_while_seats_are_free(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=1)
    first = await engine.admit("ann@x.org", "a", named_group=True)
    second = await engine.admit("bob@x.org", "b", named_group=True)
    assert (first.licence, second.licence) == ("named", "concurrent")
    usage = await engine.usage()
    assert (usage.named_assigned, usage.in_use) == (1, 1)
    assert (await engine.admit("cat@x.org", "c")).licence == "concurrent"


# The concurrent pool


async def test_one_slot_per_person_however_many_sessions(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0)
    for tab in range(5):
        decision = await engine.admit("bob@x.org", f"bob-{tab}")
        assert (decision.outcome, decision.licence, decision.in_use) == (
            "admitted",
            "concurrent",
            1,
        )
    assert (await engine.admit("cat@x.org", "cat-1")).in_use == 2
    assert (await engine.admit("dan@x.org", "dan-1")).outcome == "pool_full"
    assert (await engine.admit("bob@x.org", "bob-5")).outcome == "admitted"


async def test_pool_full_says_when_the_next_slot_frees_at_the_latest(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0)
    await engine.admit("a@x.org", "a")
    advance(engine, 600)
    await engine.admit("b@x.org", "b")
    advance(engine, 100)
    refused = await engine.admit("c@x.org", "c")
    assert (refused.outcome, refused.capacity, refused.in_use) == ("pool_full", 2, 2)
    assert refused.expires_at == 0 and refused.licence is None
    assert IDLE - 701 <= refused.retry_after <= IDLE - 700  # a's slot, idle for 700 s

    # Over capacity after a shrink: two holders must go before anyone gets in.
    await engine.resize(concurrent_seats=1)
    assert IDLE - 101 <= (await engine.admit("c@x.org", "c")).retry_after <= IDLE - 100


async def test_no_slots_means_no_licence(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=0, named_seats=0)
    refused = await engine.admit("bob@x.org", "bob-1")
    assert (refused.outcome, refused.licence, refused.retry_after) == ("no_licence", None, 0)
    assert (await engine.usage()).in_use == 0


async def test_release_frees_the_slot_only_with_the_last_session(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await engine.admit("bob@x.org", "bob-2")
    assert await engine.release("bob@x.org", "bob-1") is True
    assert await engine.release("bob@x.org", "bob-1") is False
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "pool_full"
    assert await engine.release("bob@x.org", "bob-2") is True
    assert (await engine.usage()).in_use == 0
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "admitted"


async def test_released_session_must_sign_in_again(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await engine.release("bob@x.org", "bob-1")
    replayed = await engine.heartbeat("bob@x.org", "bob-1")  # a copy of the logged-out cookie
    assert (replayed.outcome, replayed.in_use) == ("ended", 0)


async def test_heartbeat_renews_the_session_and_its_slot(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    admitted = await engine.admit("bob@x.org", "bob-1")
    advance(engine, 1000)
    renewed = await engine.heartbeat("bob@x.org", "bob-1")
    assert renewed.outcome == "renewed"
    assert renewed.expires_at == pytest.approx(await now(engine) + IDLE, abs=2)
    assert renewed.expires_at > admitted.expires_at + 999
    advance(engine, 1000)  # past the first expiry, within the renewed one
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "pool_full"


async def test_idle_session_expires_with_its_slot(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    advance(engine, IDLE - 5)
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "pool_full"
    advance(engine, 10)
    assert (await engine.usage()).in_use == 0
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "admitted"
    events = [(e["event"], e["user"]) for e in await audit_events(engine)]
    assert ("expired", "bob@x.org") in events


async def test_idle_expired_session_readmitted_at_heartbeat_while_a_slot_is_free(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    advance(engine, IDLE + 1)
    readmitted = await engine.heartbeat("bob@x.org", "bob-1")
    assert (readmitted.outcome, readmitted.licence) == ("readmitted", "concurrent")


async def test_session_ends_at_max_age_whatever_its_activity(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    admitted = await engine.admit("bob@x.org", "bob-1")
    start = admitted.expires_at - IDLE
    while (await now(engine)) + 1500 < start + MAX_AGE:
        advance(engine, 1500)
        renewed = await engine.heartbeat("bob@x.org", "bob-1")
        assert renewed.outcome == "renewed"
        assert renewed.expires_at <= start + MAX_AGE + 1
    advance(engine, 1500)
    assert (await engine.heartbeat("bob@x.org", "bob-1")).outcome == "ended"
    assert (await engine.heartbeat("bob@x.org", "bob-1")).outcome == "ended"
    assert (await engine.usage()).in_use == 0


async def test_session_past_max_age_stays_ended_after_being_culled(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    for _ in range(MAX_AGE // 1500):
        advance(engine, 1500)
        await engine.heartbeat("bob@x.org", "bob-1")
    advance(engine, 1500)
    # Someone else's decision culls Bob's expired entry before his heartbeat comes.
    await engine.admit("cat@x.org", "cat-1")
    assert (await engine.heartbeat("bob@x.org", "bob-1")).outcome == "ended"


async def test_admin_end_session_ends_it_at_heartbeat_and_leaves_a_tombstone(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await engine.admit("bob@x.org", "bob-2")
    assert await engine.end_session("bob@x.org", "bob-1", by="root@x.org") == 1
    assert await engine.store.zscore(engine.keys.key("ended"), "bob-1") is not None
    assert (await engine.heartbeat("bob@x.org", "bob-1")).outcome == "ended"
    assert (await engine.heartbeat("bob@x.org", "bob-2")).outcome == "renewed"

    assert await engine.end_session("bob@x.org", by="root@x.org") == 1
    ended = await engine.heartbeat("bob@x.org", "bob-2")
    assert (ended.outcome, ended.licence, ended.expires_at) == ("ended", None, 0)
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "admitted"
    events = [(e["event"], e["session"], e["reason"]) for e in await audit_events(engine)]
    assert ("ended", "bob-1", "root@x.org") in events


async def test_lost_session_readmitted_after_a_store_restart(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await drop_instance(engine.store, engine.keys.instance)
    await engine.configure(concurrent_seats=1, named_seats=0)  # a worker starts meanwhile
    readmitted = await engine.heartbeat("bob@x.org", "bob-1")
    assert (readmitted.outcome, readmitted.in_use) == ("readmitted", 1)


async def test_store_restarted_empty_gets_the_deployment_back_at_the_next_decision(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=2, named_seats=1, named_users=["ann@x.org"])
    await engine.admit("bob@x.org", "bob-1")
    await engine.admit("ann@x.org", "ann-1")
    await drop_instance(engine.store, engine.keys.instance)  # no worker restarts this time
    readmitted = await engine.heartbeat("bob@x.org", "bob-1")
    assert (readmitted.outcome, readmitted.licence, readmitted.capacity) == (
        "readmitted",
        "concurrent",
        2,
    )
    assert (await engine.heartbeat("ann@x.org", "ann-1")).licence == "named"
    usage = await engine.usage()
    assert (usage.concurrent_seats, usage.named_seats, usage.named_assigned) == (2, 1, 1)


async def test_an_engine_never_configured_restores_nothing(engine: LicenceEngine) -> None:
    # A console's or the CLI's engine meeting an emptied store must not write 0 slots and 0
    # seats, which the gateway's workers would then take for the deployment's settings.
    with pytest.raises(StoreUnavailable, match="never configured"):
        await engine.admit("bob@x.org", "bob-1")
    with pytest.raises(StoreUnavailable, match="never configured"):
        await engine.heartbeat("bob@x.org", "bob-1")
    assert await engine.store.exists(engine.keys.config) == 0
    gateway = LicenceEngine(engine.store, instance=engine.keys.instance)
    await gateway.configure(concurrent_seats=1, named_seats=0)
    await drop_instance(engine.store, engine.keys.instance)
    with pytest.raises(StoreUnavailable):
        await engine.admit("bob@x.org", "bob-1")
    admitted = await gateway.admit("bob@x.org", "bob-2")
    assert (admitted.outcome, admitted.capacity) == ("admitted", 1)


async def test_lost_session_refused_when_the_pool_filled_meanwhile(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await engine.store.delete(engine.keys.sessions("bob@x.org"), engine.keys.key("pool"))
    await engine.admit("cat@x.org", "cat-1")
    refused = await engine.heartbeat("bob@x.org", "bob-1")
    assert (refused.outcome, refused.in_use, refused.capacity) == ("pool_full", 1, 1)
    assert refused.retry_after > 0


# Capacities


async def test_shrinking_ends_nobody_and_blocks_admission_until_below(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=3, named_seats=0)
    for person in ("a", "b", "c"):
        await engine.admit(f"{person}@x.org", person)
    assert await engine.resize(concurrent_seats=1, by="root@x.org") == (1, 0)
    for person in ("a", "b", "c"):
        assert (await engine.heartbeat(f"{person}@x.org", person)).outcome == "renewed"
    assert (await engine.usage()).in_use == 3
    assert (await engine.admit("d@x.org", "d")).outcome == "pool_full"
    await engine.release("a@x.org", "a")
    await engine.release("b@x.org", "b")
    assert (await engine.admit("d@x.org", "d")).outcome == "pool_full"  # 1 in use, 1 slot
    await engine.release("c@x.org", "c")
    assert (await engine.admit("d@x.org", "d")).outcome == "admitted"


async def test_configure_keeps_an_admin_resize_until_the_deployment_changes(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=5, named_seats=2)
    await engine.resize(concurrent_seats=3, named_seats=4)
    await engine.configure(concurrent_seats=5, named_seats=2)  # another worker starts
    usage = await engine.usage()
    assert (usage.concurrent_seats, usage.named_seats) == (3, 4)
    await engine.configure(concurrent_seats=7, named_seats=2)  # the deployment changed
    usage = await engine.usage()
    assert (usage.concurrent_seats, usage.named_seats) == (7, 4)


async def test_configure_reports_listed_people_left_without_a_seat(
    engine: LicenceEngine,
) -> None:
    left = await engine.configure(
        concurrent_seats=1, named_seats=1, named_users=["ann@x.org", "bob@x.org"]
    )
    assert left == ["bob@x.org"]
    assert (await engine.admit("bob@x.org", "b")).licence == "concurrent"


# Usage, audit and history


async def test_usage_counts_only_live_entries(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=100, named_seats=2, named_users=["ann@x.org"])
    await engine.admit("ann@x.org", "ann")
    for i in range(40):  # more than one call culls
        await engine.admit(f"p{i}@x.org", f"s{i}")
    assert (await engine.usage()).in_use == 40
    advance(engine, IDLE + 1)
    usage = await engine.usage()
    assert (usage.in_use, usage.named_active, usage.named_assigned) == (0, 0, 1)
    assert usage.as_json()["concurrent"]["in_use"] == 0


async def test_usage_has_the_api_shape(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=3, named_seats=2, named_users=["ann@x.org"])
    await engine.admit("ann@x.org", "ann")
    await engine.admit("bob@x.org", "bob")
    body = (await engine.usage()).as_json()
    assert body["named"].items() >= {"seats": 2, "assigned": 1, "active": 1}.items()
    assert body["concurrent"] == {
        "seats": 3,
        "in_use": 1,
        "peak_24h": 1,
        "denials_24h": 0,
        "harvested_24h": 0,
    }


async def test_audit_has_an_event_for_every_decision(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1)
    await engine.admit("bob@x.org", "bob-1")
    await engine.admit("cat@x.org", "cat-1")
    await engine.release("bob@x.org", "bob-1")
    await engine.admit("cat@x.org", "cat-1")
    await engine.end_session("cat@x.org", "cat-1", by="root@x.org")
    await engine.assign("dan@x.org", by="root@x.org")
    await engine.unassign("dan@x.org", by="root@x.org")
    await engine.resize(concurrent_seats=2, by="root@x.org")
    await engine.admit("eve@x.org", "eve-1")
    advance(engine, IDLE + 1)
    await engine.usage()

    events = await audit_events(engine)
    kinds = [e["event"] for e in events]
    assert kinds[kinds.index("admitted") :] == [
        "admitted",
        "denied",
        "queued",
        "released",
        "admitted",
        "dequeued",
        "ended",
        "assigned",
        "unassigned",
        "resized",
        "admitted",
        "expired",
    ]
    denied = events[kinds.index("denied")]
    assert (
        denied.items()
        >= {
            "user": "cat@x.org",
            "licence": "concurrent",
            "session": "cat-1",
            "reason": "pool_full",
            "in_use": "1",
            "capacity": "1",
        }.items()
    )
    admitted = events[kinds.index("admitted")]
    assert admitted.items() >= {"user": "bob@x.org", "session": "bob-1", "in_use": "1"}.items()


async def test_audit_stream_is_trimmed_to_about_its_cap(engine: LicenceEngine) -> None:
    # MAXLEN ~: whole stream nodes go at a time, so at least the cap is kept, and at most a
    # node's worth more (stream-node-max-entries, 100 by default).
    capped = twin(engine, audit_maxlen=5)
    await capped.configure(concurrent_seats=1000, named_seats=0)
    for i in range(250):
        await capped.admit(f"p{i}@x.org", f"s{i}")
    kept = await engine.store.xlen(engine.keys.audit)
    assert 5 <= kept <= 5 + 100
    assert (await audit_events(engine))[-1]["user"] == "p249@x.org"


async def test_history_feeds_peak_and_denials_of_the_last_day(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0)
    await engine.admit("a@x.org", "a")
    await engine.admit("b@x.org", "b")
    await engine.admit("c@x.org", "c")
    await engine.admit("d@x.org", "d")
    await engine.release("a@x.org", "a")
    await engine.release("b@x.org", "b")
    usage = await engine.usage()
    assert (usage.in_use, usage.peak_24h, usage.denials_24h) == (0, 2, 2)

    advance(engine, 3600)
    await engine.admit("e@x.org", "e")
    assert (await engine.usage()).peak_24h == 2  # an hour ago still counts

    advance(engine, 86400)
    usage = await engine.usage()
    assert (usage.in_use, usage.peak_24h, usage.denials_24h) == (0, 0, 0)


# The store


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_unreachable_store_raises_store_unavailable() -> None:
    store = connect(f"redis://127.0.0.1:{closed_port()}/0")
    engine = LicenceEngine(store, instance="unreachable")
    try:
        with pytest.raises(StoreUnavailable):
            await engine.admit("bob@x.org", "bob-1")
        with pytest.raises(StoreUnavailable):
            await engine.heartbeat("bob@x.org", "bob-1")
        with pytest.raises(StoreUnavailable):
            await engine.usage()
        with pytest.raises(StoreUnavailable):
            await engine.ping()
    finally:
        await store.aclose()


async def test_connect_gives_a_client_the_engine_runs_on() -> None:
    store = connect(REDIS_URL)  # packs commands with hiredis when it is installed
    engine = LicenceEngine(store, instance=unique_instance())
    try:
        await engine.configure(concurrent_seats=1, named_seats=0)
        assert (await engine.admit("bob@x.org", "bob-1")).outcome == "admitted"
        assert (await engine.admit("cat@x.org", "cat-1")).outcome == "pool_full"
        assert await store.config_get("maxclients")  # a command name with a space still packs
        assert await engine.ping()
    finally:
        await drop_instance(store, engine.keys.instance)
        await store.aclose()


async def test_more_concurrent_decisions_than_connections_wait_for_one() -> None:
    store = connect(REDIS_URL)
    engine = LicenceEngine(store, instance=unique_instance())
    try:
        await engine.configure(concurrent_seats=1000, named_seats=0)
        decisions = await asyncio.gather(
            *(engine.admit(f"p{i}@x.org", f"s{i}") for i in range(POOL_SIZE * 3))
        )
        assert all(decision.admitted for decision in decisions)
    finally:
        await drop_instance(store, engine.keys.instance)
        await store.aclose()
