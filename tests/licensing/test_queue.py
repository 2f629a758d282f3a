"""The waiting line, as a contract every store keeps (real Redis and fakeredis): the README's
"Waiting room" rules. Time passes through ``engine.clock_offset``."""

from __future__ import annotations

from halo_gate.licensing import LicenceEngine
from halo_gate.licensing.estimate import estimate_wait

from .test_engine import advance, audit_events, twin

SD, HR = "service-desk", "hr"


async def ask(engine: LicenceEngine, who: str, *groups: str, session: str = "") -> tuple[str, int]:
    """(outcome, position) of an admission of ``who`` (a heartbeat of a lost session asks the
    same way a waiting page's poll does)."""
    decision = await engine.heartbeat(f"{who}@x.org", session or who, groups=groups)
    return decision.outcome, decision.position


async def leave(engine: LicenceEngine, who: str) -> None:
    await engine.release(f"{who}@x.org", who)


def dequeued(events: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(e["user"], e["reason"]) for e in events if e["event"] == "dequeued"]


async def test_a_freed_slot_goes_to_the_head_of_the_line_not_to_a_newcomer(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    assert await ask(engine, "a") == ("readmitted", 0)
    assert await ask(engine, "w1") == ("pool_full", 1)
    assert await ask(engine, "w2") == ("pool_full", 2)
    await leave(engine, "a")
    # The newcomer asks first, at the moment the slot frees: it is kept for the head.
    assert await ask(engine, "new") == ("pool_full", 3)
    assert await ask(engine, "w2") == ("pool_full", 2)
    assert await ask(engine, "w1") == ("readmitted", 0)
    assert await ask(engine, "w2") == ("pool_full", 1)
    assert await ask(engine, "new") == ("pool_full", 2)
    usage = await engine.usage()
    assert (usage.in_use, usage.queue_length) == (1, 2)
    events = await audit_events(engine)
    assert [e["user"] for e in events if e["event"] == "queued"] == [
        "w1@x.org",
        "w2@x.org",
        "new@x.org",
    ]
    assert dequeued(events) == [("w1@x.org", "admitted")]


async def test_a_waiters_poll_is_not_counted_as_another_denial(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await ask(engine, "a")
    for _ in range(3):
        assert await ask(engine, "w") == ("pool_full", 1)
    usage = await engine.usage()
    assert usage.denials_24h == 1
    assert [e["event"] for e in await audit_events(engine)].count("denied") == 1


async def test_several_tabs_and_devices_share_one_place(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await ask(engine, "a")
    assert await ask(engine, "w1", session="w1-laptop") == ("pool_full", 1)
    assert await ask(engine, "w2") == ("pool_full", 2)
    assert await ask(engine, "w1", session="w1-phone") == ("pool_full", 1)
    assert (await engine.usage()).queue_length == 2
    await leave(engine, "a")
    assert await ask(engine, "w1", session="w1-phone") == ("readmitted", 0)
    # The person holds the slot now, from any of their devices.
    assert await ask(engine, "w1", session="w1-laptop") == ("readmitted", 0)
    assert (await engine.usage()).in_use == 1


async def test_a_waiter_who_stops_polling_leaves_after_the_grace(engine: LicenceEngine) -> None:
    quick = twin(engine, queue_grace=30, queue_offer=20)
    await quick.configure(concurrent_seats=1, named_seats=0)
    await ask(quick, "a")
    assert await ask(quick, "gone") == ("pool_full", 1)
    assert await ask(quick, "w") == ("pool_full", 2)
    advance(quick, 20)
    assert await ask(quick, "w") == ("pool_full", 2)  # polling keeps w's place
    advance(quick, 11)
    assert await ask(quick, "w") == ("pool_full", 1)  # gone stopped polling 31 s ago
    assert dequeued(await audit_events(quick)) == [("gone@x.org", "abandoned")]
    # A waiter who comes back after losing their place joins at the end.
    assert await ask(quick, "gone") == ("pool_full", 2)


async def test_an_offer_not_claimed_in_time_passes_to_the_next(engine: LicenceEngine) -> None:
    quick = twin(engine, queue_grace=100, queue_offer=20)
    await quick.configure(concurrent_seats=1, named_seats=0)
    await ask(quick, "a")
    assert await ask(quick, "slow") == ("pool_full", 1)
    assert await ask(quick, "w") == ("pool_full", 2)
    await leave(quick, "a")
    advance(quick, 5)
    assert await ask(quick, "w") == ("pool_full", 2)  # the slot is offered to slow
    advance(quick, 10)
    assert await ask(quick, "w") == ("pool_full", 2)
    advance(quick, 11)  # slow's offer, made 21 s ago, has run out
    assert await ask(quick, "w") == ("readmitted", 0)
    assert dequeued(await audit_events(quick)) == [
        ("slow@x.org", "offer_expired"),
        ("w@x.org", "admitted"),
    ]
    assert await ask(quick, "slow") == ("pool_full", 1)  # back, at the end of the line


async def test_leaving_the_line_at_sign_out(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await ask(engine, "a")
    await ask(engine, "w1")
    assert await ask(engine, "w2") == ("pool_full", 2)
    await leave(engine, "w1")
    assert await ask(engine, "w2") == ("pool_full", 1)
    assert dequeued(await audit_events(engine)) == [("w1@x.org", "left")]


async def test_named_people_never_wait(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1, named_users=["ann@x.org"])
    await ask(engine, "a")
    await ask(engine, "w")
    assert await ask(engine, "ann") == ("readmitted", 0)
    # A waiter given a named seat is let in at once and leaves the line.
    await engine.resize(named_seats=2)
    assert await engine.assign("w@x.org") == "assigned"
    decision = await engine.heartbeat("w@x.org", "w")
    assert (decision.outcome, decision.licence, decision.position) == ("readmitted", "named", 0)
    assert (await engine.usage()).queue_length == 0


async def test_past_the_most_waiters_the_answer_is_queue_full(engine: LicenceEngine) -> None:
    small = twin(engine, queue_max=2)
    await small.configure(concurrent_seats=1, named_seats=0)
    await ask(small, "a")
    assert await ask(small, "w1") == ("pool_full", 1)
    assert await ask(small, "w2") == ("pool_full", 2)
    refused = await small.heartbeat("w3@x.org", "w3")
    assert (refused.outcome, refused.position, refused.estimated_wait) == ("queue_full", 0, None)
    denied = [e for e in await audit_events(small) if e["event"] == "denied"]
    assert denied[-1]["reason"] == "queue_full"


async def test_with_the_queue_off_a_freed_slot_goes_to_whoever_asks_first(
    engine: LicenceEngine,
) -> None:
    off = twin(engine, queue=False)
    await off.configure(concurrent_seats=1, named_seats=0)
    await ask(off, "a")
    assert await ask(off, "w") == ("pool_full", 0)
    await leave(off, "a")
    assert await ask(off, "new") == ("readmitted", 0)
    assert (await off.usage()).queue_length == 0
    assert "queued" not in [e["event"] for e in await audit_events(off)]


async def test_a_waiter_blocked_by_their_groups_cap_does_not_block_others(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=3, named_seats=0, pool_cap=f"{HR}=1")
    assert await ask(engine, "h1", HR) == ("readmitted", 0)
    assert await ask(engine, "a") == ("readmitted", 0)
    assert await ask(engine, "h2", HR) == ("group_cap", 1)  # hr's cap: waits
    # A free slot remains: h2 cannot take it, so it goes to the next person.
    assert await ask(engine, "b") == ("readmitted", 0)
    assert await ask(engine, "c") == ("pool_full", 2)
    await leave(engine, "h1")
    # hr's cap has room again, and h2 is ahead of c.
    assert await ask(engine, "c") == ("pool_full", 2)
    assert await ask(engine, "h2", HR) == ("readmitted", 0)


async def test_a_waiter_served_from_a_reservation_of_theirs_is_served_at_once(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=3, named_seats=0, pool_reserve=f"{SD}=1")
    assert await ask(engine, "a") == ("readmitted", 0)
    assert await ask(engine, "b") == ("readmitted", 0)  # the shared part (2) is full
    assert await ask(engine, "w1") == ("pool_full", 1)
    assert await ask(engine, "w2") == ("pool_full", 2)
    # The desk's reserved slot is free: a desk member is served ahead of the shared line.
    assert await ask(engine, "d", SD) == ("readmitted", 0)
    assert await ask(engine, "d2", SD) == ("pool_full", 3)
    await leave(engine, "a")
    # The shared slot goes to w1, the head, not to the desk member behind.
    assert await ask(engine, "d2", SD) == ("pool_full", 3)
    assert await ask(engine, "w1") == ("readmitted", 0)


async def test_the_estimate_comes_from_slots_freed_lately_and_is_unknown_without(
    engine: LicenceEngine,
) -> None:
    engine.history.freed_cache = 0  # each decision reads the slots freed afresh
    await engine.configure(concurrent_seats=2, named_seats=0)
    await ask(engine, "a")
    await ask(engine, "b")
    first = await engine.heartbeat("w1@x.org", "w1")
    assert (first.position, first.estimated_wait, first.wait_range) == (1, None, None)
    await leave(engine, "a")
    await ask(engine, "w1")  # takes a's slot
    await ask(engine, "w2")
    second = await engine.heartbeat("w3@x.org", "w3")
    # One slot freed in the last hour: too few to trust one figure, so a wide range.
    expected = estimate_wait(2, [0] * 59 + [1], poll=engine.queue_poll)
    assert expected is not None and expected.thin
    assert (second.position, second.estimated_wait) == (2, expected.typical)
    assert second.wait_thin and second.wait_range == (expected.low, expected.high)
    assert expected.low < expected.typical < expected.high
    advance(engine, 61 * 60)
    await ask(engine, "w1")
    await ask(engine, "b")
    later = await engine.heartbeat("w3@x.org", "w3")
    # The slot freed an hour ago is out of the window; a holder who idled out since is counted
    # when the expiry is noticed, now: b's. w1 takes its own expired slot straight back in the
    # same decision, so that slot never freed for anyone.
    now_freed = estimate_wait(1, [0] * 59 + [1], poll=engine.queue_poll)
    assert now_freed is not None and later.position == 1 and later.wait_thin
    assert later.estimated_wait == now_freed.typical


async def test_usage_shows_the_line_and_its_longest_wait(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await ask(engine, "a")
    await ask(engine, "w1")
    advance(engine, 40)
    await ask(engine, "w1")
    await ask(engine, "w2")
    body = (await engine.usage()).as_json()
    assert body["queue"]["length"] == 2
    assert 40 <= body["queue"]["longest_wait"] <= 41
