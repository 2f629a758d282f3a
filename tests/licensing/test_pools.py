"""Department pools: reservations and caps on the concurrent pool, as a contract every store
keeps (real Redis and fakeredis). The rules are those of the README's "Department pools"."""

from __future__ import annotations

import pytest

from halo_gate.licensing import LicenceEngine, PoolRulesError

from ..conftest import drop_instance
from .test_engine import IDLE, advance, audit_events, twin

SD, HR, FIN = "service-desk", "hr", "finance"


async def pooled(
    engine: LicenceEngine, slots: int, reserve: str = "", cap: str = "", named: int = 0
) -> None:
    await engine.configure(
        concurrent_seats=slots, named_seats=named, pool_reserve=reserve, pool_cap=cap
    )


async def admit(engine: LicenceEngine, who: str, *groups: str, session: str = "") -> str:
    decision = await engine.admit(f"{who}@x.org", session or who, groups=groups)
    return decision.outcome


# Reservations


async def test_reserved_slots_are_kept_for_members_even_while_idle(engine: LicenceEngine) -> None:
    await pooled(engine, 3, reserve=f"{SD}=2")
    assert await admit(engine, "a") == "admitted"  # the shared part: 3 - 2 = 1 slot
    refused = await engine.admit("b@x.org", "b", groups=[HR])
    assert (refused.outcome, refused.group, refused.limit, refused.held) == (
        "pool_full",
        None,
        1,
        1,
    )
    assert (refused.capacity, refused.in_use) == (3, 1)  # two slots idle, kept for the desk
    assert IDLE - 2 <= refused.retry_after <= IDLE  # when a's shared slot frees

    assert await admit(engine, "d1", SD) == "admitted"
    assert await admit(engine, "d2", SD) == "admitted"
    assert await admit(engine, "d3", SD) == "pool_full"  # reservation and shared part full
    usage = await engine.usage()
    assert usage.in_use == 3
    assert usage.groups[SD].as_json() == {
        "reserved": 2,
        "cap": None,
        "in_use": 2,
        "in_reserve": 2,
        "in_shared": 0,
        "denials_24h": 1,
    }


async def test_member_takes_the_shared_part_before_others_when_the_reservation_is_full(
    engine: LicenceEngine,
) -> None:
    await pooled(engine, 3, reserve=f"{SD}=1")
    assert await admit(engine, "d1", SD) == "admitted"  # the reservation
    assert await admit(engine, "d2", SD) == "admitted"  # the shared part
    assert await admit(engine, "a") == "admitted"  # the shared part's last slot
    assert await admit(engine, "b") == "pool_full"
    group = (await engine.usage()).groups[SD]
    assert (group.in_use, group.in_reserve, group.in_shared) == (2, 1, 1)


async def test_idle_reservation_is_reported_reserved_not_in_use(engine: LicenceEngine) -> None:
    await pooled(engine, 5, reserve=f"{SD}=2,vip=1", cap=f"{HR}=2")
    body = (await engine.usage()).as_json()
    assert body["groups"] == {
        SD: {
            "reserved": 2,
            "cap": None,
            "in_use": 0,
            "in_reserve": 0,
            "in_shared": 0,
            "denials_24h": 0,
        },
        "vip": {
            "reserved": 1,
            "cap": None,
            "in_use": 0,
            "in_reserve": 0,
            "in_shared": 0,
            "denials_24h": 0,
        },
        HR: {
            "reserved": 0,
            "cap": 2,
            "in_use": 0,
            "in_reserve": 0,
            "in_shared": 0,
            "denials_24h": 0,
        },
    }
    assert body["concurrent"]["in_use"] == 0


async def test_multi_group_person_is_charged_to_the_first_reservation_with_room(
    engine: LicenceEngine,
) -> None:
    await pooled(engine, 4, reserve=f"vip=1,{SD}=1")
    # Their groups' order does not matter: the order of the reservations does.
    assert await admit(engine, "a", SD, "vip") == "admitted"
    assert await admit(engine, "b", SD, "vip") == "admitted"
    groups = (await engine.usage()).groups
    assert (groups["vip"].in_reserve, groups[SD].in_reserve) == (1, 1)
    assert (groups["vip"].in_use, groups[SD].in_use) == (2, 2)
    assert await admit(engine, "c", SD, "vip") == "admitted"  # the shared part
    assert (await engine.usage()).groups[SD].in_shared == 1


async def test_released_reservation_is_retaken_by_the_next_member(engine: LicenceEngine) -> None:
    await pooled(engine, 2, reserve=f"{SD}=1")
    assert await admit(engine, "a") == "admitted"  # the shared part is full
    assert await admit(engine, "d1", SD) == "admitted"
    assert await admit(engine, "d2", SD) == "pool_full"
    assert await engine.release("d1@x.org", "d1")
    assert await admit(engine, "b") == "pool_full"  # not for others
    assert await admit(engine, "d2", SD) == "admitted"
    assert (await engine.usage()).groups[SD].in_reserve == 1


async def test_one_slot_and_one_charge_however_many_sessions(engine: LicenceEngine) -> None:
    await pooled(engine, 3, reserve=f"{SD}=1", cap=f"{HR}=1")
    for tab in range(3):
        assert await admit(engine, "a", SD, HR, session=f"a-{tab}") == "admitted"
    group = (await engine.usage()).groups
    assert (group[SD].in_use, group[SD].in_reserve, group[HR].in_use) == (1, 1, 1)
    for tab in range(2):
        assert await engine.release("a@x.org", f"a-{tab}")
    assert (await engine.usage()).groups[SD].in_reserve == 1  # the last session holds it
    assert await engine.release("a@x.org", "a-2")
    usage = await engine.usage()
    assert (usage.in_use, usage.groups[SD].in_use, usage.groups[HR].in_use) == (0, 0, 0)


# Caps


async def test_group_cap_refuses_while_the_pool_has_free_slots(engine: LicenceEngine) -> None:
    await pooled(engine, 10, cap=f"{HR}=2,{FIN}=5")
    assert await admit(engine, "h1", HR) == "admitted"
    advance(engine, 100)
    assert await admit(engine, "h2", HR) == "admitted"
    refused = await engine.admit("h3@x.org", "h3", groups=[HR])
    assert (refused.outcome, refused.group, refused.limit, refused.held) == ("group_cap", HR, 2, 2)
    assert (refused.capacity, refused.in_use) == (10, 2)
    assert IDLE - 101 <= refused.retry_after <= IDLE - 99  # when h1's slot frees
    assert await admit(engine, "x") == "admitted"
    assert await admit(engine, "f1", FIN) == "admitted"


async def test_every_cap_of_every_group_must_have_room(engine: LicenceEngine) -> None:
    await pooled(engine, 10, cap=f"{HR}=3,{FIN}=1")
    assert await admit(engine, "f1", FIN) == "admitted"
    refused = await engine.admit("both@x.org", "both", groups=[HR, FIN])
    assert (refused.outcome, refused.group) == ("group_cap", FIN)
    assert await admit(engine, "h1", HR) == "admitted"
    group = (await engine.usage()).groups
    assert (group[HR].in_use, group[FIN].in_use, group[HR].denials_24h) == (1, 1, 1)


async def test_shrunk_cap_ends_nobody_and_the_group_drains(engine: LicenceEngine) -> None:
    await pooled(engine, 10, cap=f"{HR}=3")
    for who in ("h1", "h2", "h3"):
        assert await admit(engine, who, HR) == "admitted"
    await engine.set_pools(cap=f"{HR}=1", by="root@x.org")
    for who in ("h1", "h2", "h3"):
        assert (await engine.heartbeat(f"{who}@x.org", who, groups=[HR])).outcome == "renewed"
    group = (await engine.usage()).groups[HR]
    assert (group.in_use, group.cap) == (3, 1)  # over its cap until it drains
    assert await admit(engine, "h4", HR) == "group_cap"
    await engine.release("h1@x.org", "h1")
    await engine.release("h2@x.org", "h2")
    assert await admit(engine, "h4", HR) == "group_cap"  # 1 held, cap 1
    await engine.release("h3@x.org", "h3")
    assert await admit(engine, "h4", HR) == "admitted"


async def test_shrunk_reservation_drains_into_the_shared_count(engine: LicenceEngine) -> None:
    await pooled(engine, 4, reserve=f"{SD}=3")
    for who in ("d1", "d2", "d3"):
        assert await admit(engine, who, SD) == "admitted"
    await engine.set_pools(reserve=f"{SD}=1")
    assert await admit(engine, "a") == "admitted"  # shared part 3: 4 held - 3 reserved = 1
    assert await admit(engine, "b") == "pool_full"  # the pool's 4 slots are all held
    group = (await engine.usage()).groups[SD]
    assert (group.reserved, group.in_reserve) == (1, 3)


# Charges kept with the slot


async def test_expiry_gives_back_the_charge(engine: LicenceEngine) -> None:
    await pooled(engine, 2, reserve=f"{SD}=1", cap=f"{HR}=1")
    assert await admit(engine, "d1", SD, HR) == "admitted"
    advance(engine, IDLE + 1)
    usage = await engine.usage()
    assert (usage.in_use, usage.groups[SD].in_reserve, usage.groups[HR].in_use) == (0, 0, 0)
    assert await admit(engine, "d2", SD, HR) == "admitted"
    assert (await engine.usage()).groups[SD].in_reserve == 1


async def test_expiry_culled_by_an_admission_gives_back_the_charge(engine: LicenceEngine) -> None:
    await pooled(engine, 40, cap=f"{HR}=40")
    for i in range(40):  # more holders than one call culls
        assert await admit(engine, f"h{i}", HR) == "admitted"
    advance(engine, IDLE + 1)
    assert await admit(engine, "late", HR) == "admitted"
    assert (await engine.usage()).groups[HR].in_use == 1


async def test_administrator_end_gives_back_the_charge(engine: LicenceEngine) -> None:
    await pooled(engine, 2, reserve=f"{SD}=1")
    await admit(engine, "d1", SD, session="d1-a")
    await admit(engine, "d1", SD, session="d1-b")
    assert await engine.end_session("d1@x.org", by="root@x.org") == 2
    assert (await engine.usage()).groups[SD].in_reserve == 0
    assert await engine.store.exists(engine.keys.sessions("d1@x.org")) == 0
    assert await admit(engine, "d2", SD) == "admitted"


async def test_changed_groups_count_from_the_next_admission(engine: LicenceEngine) -> None:
    await pooled(engine, 5, cap=f"{HR}=1")
    assert await admit(engine, "a", session="a-1") == "admitted"  # not in HR yet
    renewed = await engine.heartbeat("a@x.org", "a-1", groups=[HR])
    assert renewed.outcome == "renewed"
    assert (await engine.usage()).groups[HR].in_use == 0  # the slot keeps its charge
    await engine.release("a@x.org", "a-1")
    assert await admit(engine, "a", HR) == "admitted"
    assert (await engine.usage()).groups[HR].in_use == 1


async def test_named_people_are_not_affected_by_pools(engine: LicenceEngine) -> None:
    await engine.configure(
        concurrent_seats=1,
        named_seats=1,
        named_users=["ann@x.org"],
        pool_reserve=f"{SD}=1",
        pool_cap=f"{HR}=0",
    )
    decision = await engine.admit("ann@x.org", "ann", groups=[HR])
    assert (decision.outcome, decision.licence) == ("admitted", "named")
    assert (await engine.usage()).groups[HR].in_use == 0


async def test_assigned_person_gives_back_the_charge(engine: LicenceEngine) -> None:
    await pooled(engine, 2, reserve=f"{SD}=1", named=1)
    await admit(engine, "d1", SD)
    assert await engine.assign("d1@x.org") == "assigned"
    assert (await engine.usage()).groups[SD].in_reserve == 0
    assert await admit(engine, "d2", SD) == "admitted"


async def test_unassigned_person_is_charged_by_their_groups_at_the_next_heartbeat(
    engine: LicenceEngine,
) -> None:
    await engine.configure(
        concurrent_seats=3, named_seats=1, named_users=["ann@x.org"], pool_cap=f"{HR}=1"
    )
    await admit(engine, "h1", HR)
    await engine.admit("ann@x.org", "ann", groups=[HR])
    await engine.unassign("ann@x.org")
    refused = await engine.heartbeat("ann@x.org", "ann", groups=[HR])
    assert (refused.outcome, refused.group) == ("group_cap", HR)
    await engine.release("h1@x.org", "h1")
    readmitted = await engine.heartbeat("ann@x.org", "ann", groups=[HR])
    assert (readmitted.outcome, readmitted.licence) == ("readmitted", "concurrent")
    assert (await engine.usage()).groups[HR].in_use == 1


# Settings, live changes and what is recorded


async def test_people_in_no_group_cost_no_record(engine: LicenceEngine) -> None:
    await pooled(engine, 3)
    await engine.admit("a@x.org", "a", groups=[HR, "staff"])
    assert await engine.store.hgetall(engine.keys.sessions("a@x.org")) != {}
    assert await engine.store.hexists(engine.keys.sessions("a@x.org"), "!") is False
    assert await engine.store.exists(engine.keys.key("charges")) == 0
    await engine.set_pools(cap=f"{HR}=2")
    await engine.admit("b@x.org", "b", groups=["staff"])
    assert await engine.store.hexists(engine.keys.sessions("b@x.org"), "!") is False


async def test_live_change_is_audited_and_checked(engine: LicenceEngine) -> None:
    await pooled(engine, 10, reserve=f"{SD}=2")
    rules = await engine.set_pools(reserve=f"{SD}=4,vip=1", cap=f"{HR}=3", by="root@x.org")
    assert (rules.reserve, rules.cap) == (((SD, 4), ("vip", 1)), ((HR, 3),))
    resized = (await audit_events(engine))[-1]
    assert (resized["event"], resized["reason"]) == (
        "resized",
        f"root@x.org reserve={SD}=4,vip=1 cap={HR}=3",
    )
    with pytest.raises(PoolRulesError, match="add up to 11 slots, more than the pool's 10"):
        await engine.set_pools(reserve={SD: 10, "vip": 1})
    with pytest.raises(PoolRulesError, match=f"reservation of 4 slots for {HR} is above its cap"):
        await engine.set_pools(reserve={HR: 4})
    with pytest.raises(PoolRulesError, match="not group=N"):
        await engine.set_pools(cap="hr=many")
    usage = await engine.usage()
    assert (usage.groups[SD].reserved, usage.groups[HR].cap) == (4, 3)


async def test_configure_keeps_an_administrators_rules_until_the_deployment_changes(
    engine: LicenceEngine,
) -> None:
    await pooled(engine, 10, reserve=f"{SD}=2", cap=f"{HR}=5")
    await engine.set_pools(reserve=f"{SD}=3", cap=f"{HR}=4")
    await pooled(engine, 10, reserve=f"{SD}=2", cap=f"{HR}=5")  # another worker starts
    groups = (await engine.usage()).groups
    assert (groups[SD].reserved, groups[HR].cap) == (3, 4)
    await pooled(engine, 10, reserve=f"{SD}=1", cap=f"{HR}=5")  # the deployment changed
    groups = (await engine.usage()).groups
    assert (groups[SD].reserved, groups[HR].cap) == (1, 4)


async def test_a_worker_with_old_rules_learns_the_new_ones_before_deciding(
    engine: LicenceEngine,
) -> None:
    await pooled(engine, 10)
    other = twin(engine)
    await other.configure(concurrent_seats=10, named_seats=0)
    await engine.set_pools(cap=f"{HR}=1")  # made through another worker
    assert await admit(other, "h1", HR) == "admitted"
    assert await admit(other, "h2", HR) == "group_cap"
    assert other.pool_rules.cap == ((HR, 1),)


async def test_denials_are_audited_with_reason_and_group(engine: LicenceEngine) -> None:
    await pooled(engine, 2, reserve=f"{SD}=1", cap=f"{HR}=1")
    await admit(engine, "h1", HR)
    await admit(engine, "h2", HR)
    await admit(engine, "d1", SD)
    await admit(engine, "x")
    events = [e for e in await audit_events(engine) if e["event"] in ("admitted", "denied")]
    assert [(e["event"], e["reason"], e["group"]) for e in events] == [
        ("admitted", "admitted", ""),
        ("denied", "group_cap", HR),
        ("admitted", "admitted", SD),
        ("denied", "pool_full", ""),
    ]


async def test_store_restarted_empty_gets_the_pool_rules_back(engine: LicenceEngine) -> None:
    await pooled(engine, 5, cap=f"{HR}=1")
    await admit(engine, "h1", HR)
    await drop_instance(engine.store, engine.keys.instance)
    assert await admit(engine, "h2", HR) == "admitted"
    assert await admit(engine, "h3", HR) == "group_cap"


async def test_group_cap_wait_is_bounded_past_a_long_scan(engine: LicenceEngine) -> None:
    await pooled(engine, 1000, cap=f"{HR}=1")
    for i in range(520):  # more holders than the wait's scan reads, all outside HR
        await engine.admit(f"p{i}@x.org", f"s{i}")
    advance(engine, 60)
    assert await admit(engine, "h1", HR) == "admitted"
    refused = await engine.admit("h2@x.org", "h2", groups=[HR])
    assert (refused.outcome, refused.group) == ("group_cap", HR)
    assert IDLE - 2 <= refused.retry_after <= IDLE  # the last holder's expiry: h1's


async def test_session_list_and_record_skip_the_charge(engine: LicenceEngine) -> None:
    await pooled(engine, 3, reserve=f"{SD}=1")
    await admit(engine, "d1", SD, session="d1-a")
    await admit(engine, "d1", SD, session="d1-b")
    _, live = await engine.sessions()
    assert sorted(s.session_id for s in live) == ["d1-a", "d1-b"]
    advance(engine, IDLE + 1)
    assert (await engine.usage()).groups[SD].in_reserve == 0
    record_keys = [key async for key in engine.store.scan_iter(match=engine.keys.key("record:*"))]
    entries = [e for key in record_keys for e in await engine.store.lrange(key, 0, -1)]
    assert len(entries) == 2  # one per session, none for the charge


async def test_a_call_repeated_for_new_rules_records_nothing(engine: LicenceEngine) -> None:
    await pooled(engine, 3)
    await admit(engine, "a", session="a-1")
    advance(engine, 1000)
    await admit(engine, "a", session="a-2")  # keeps the slot live after a-1 idles out
    other = twin(engine)
    await other.set_pools(cap=f"{HR}=2")  # this engine's rules are now stale
    advance(engine, IDLE - 500)
    readmitted = await engine.heartbeat("a@x.org", "a-1", groups=[HR])
    assert readmitted.outcome == "readmitted"
    record_keys = [key async for key in engine.store.scan_iter(match=engine.keys.key("record:*"))]
    assert record_keys == []  # a-1 lives on: nothing was closed
