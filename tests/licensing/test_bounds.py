"""The engine's work per call is bounded, whatever happened before (real Redis and fakeredis):
a quiet night's expired holders are culled a few at a time while every figure stays right, a
long line under pool rules is not walked waiter by waiter, a person's sessions are capped, and
a person refused for a full line is one refusal however often they ask."""

from __future__ import annotations

import asyncio

from halo_gate.licensing import LicenceEngine

from .test_engine import IDLE, advance, audit_events, twin

HR = "hr"
CULL_LIMIT = 32


def events_of(events: list[dict[str, str]], kind: str) -> list[dict[str, str]]:
    return [e for e in events if e["event"] == kind]


async def holders_left(engine: LicenceEngine) -> int:
    """People still in the pool's sorted set, expired or not: what is left to cull."""
    return int(await engine.store.zcard(engine.keys.key("pool")))


async def test_figures_are_right_while_expired_holders_are_still_being_culled(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=200, named_seats=0, pool_cap=f"{HR}=200")
    await asyncio.gather(*(engine.admit(f"h{i}@x.org", f"h{i}", groups=[HR]) for i in range(100)))
    advance(engine, IDLE + 1)  # a quiet night: all 100 idle out, nobody asks meanwhile
    usage = await engine.usage()  # counted before any of them is culled
    assert (usage.in_use, usage.groups[HR].in_use) == (0, 0)
    # The call named them; the engine culled one batch, each session audited and recorded.
    assert await holders_left(engine) == 100 - CULL_LIMIT
    assert len(events_of(await audit_events(engine), "expired")) == CULL_LIMIT

    admitted = await engine.admit("new@x.org", "new", groups=[HR])
    assert (admitted.outcome, admitted.in_use) == ("admitted", 1)
    assert (await engine.usage()).groups[HR].in_use == 1
    # Each call culls another batch at most: never the whole backlog at once.
    assert await holders_left(engine) == 1 + 100 - 3 * CULL_LIMIT
    for _ in range(3):
        await engine.usage()
    assert await holders_left(engine) == 1
    expired = events_of(await audit_events(engine), "expired")
    assert sorted(e["user"] for e in expired) == sorted(f"h{i}@x.org" for i in range(100))


async def test_a_person_who_renewed_after_being_named_for_culling_is_kept(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    await engine.admit("a@x.org", "a")
    advance(engine, IDLE + 1)
    # The session was lost: the heartbeat readmits it before any cull could run.
    assert (await engine.heartbeat("a@x.org", "a")).outcome == "readmitted"
    await engine._cull(["a@x.org"])  # a cull that names them late changes nothing
    assert (await engine.usage()).in_use == 1
    assert (await engine.heartbeat("a@x.org", "a")).outcome == "renewed"


async def test_a_blocked_waiter_blocks_nobody_at_any_length_of_the_line(
    engine: LicenceEngine,
) -> None:
    long_line = twin(engine, queue_max=2000)
    await long_line.configure(concurrent_seats=100, named_seats=0, pool_cap=f"{HR}=50")
    await asyncio.gather(*(long_line.admit(f"h{i}@x.org", f"h{i}", groups=[HR]) for i in range(50)))
    # HR's cap is full and 50 of the 100 slots are free: 1,100 HR people wait for the cap.
    for i in range(1100):
        refused = await long_line.admit(f"w{i}@x.org", f"w{i}", groups=[HR])
        assert (refused.outcome, refused.group, refused.position) == ("group_cap", HR, i + 1)
    # Nobody ahead can take the free slots, so a person in no group takes one at once.
    admitted = await long_line.admit("other@x.org", "other", groups=["staff"])
    assert (admitted.outcome, admitted.position, admitted.in_use) == ("admitted", 0, 51)
    # A waiter far down the line is still refused for the cap, not for a full pool.
    last = await long_line.admit("w1099@x.org", "w1099-again", groups=[HR])
    assert (last.outcome, last.group, last.position) == ("group_cap", HR, 1100)
    # Once the cap has room, the head of HR's line is served first.
    await long_line.release("h0@x.org", "h0")
    assert (await long_line.admit("w1@x.org", "w1", groups=[HR])).position == 2
    assert (await long_line.admit("w0@x.org", "w0", groups=[HR])).outcome == "admitted"


async def test_a_new_session_past_the_cap_ends_the_persons_oldest(engine: LicenceEngine) -> None:
    capped = twin(engine, max_sessions_per_person=3)
    await capped.configure(concurrent_seats=5, named_seats=0)
    for tab in range(3):
        assert (await capped.admit("bob@x.org", f"bob-{tab}")).ended_sessions == ()
        advance(capped, 10)
    fourth = await capped.admit("bob@x.org", "bob-3")
    assert (fourth.outcome, fourth.ended_sessions) == ("admitted", ("bob-0",))
    assert (await capped.heartbeat("bob@x.org", "bob-0")).outcome == "ended"
    for tab in range(1, 4):
        assert (await capped.heartbeat("bob@x.org", f"bob-{tab}")).outcome == "renewed"
    assert await engine.store.hlen(engine.keys.sessions("bob@x.org")) == 3
    ended = events_of(await audit_events(engine), "ended")
    assert [(e["session"], e["reason"]) for e in ended] == [("bob-0", "session_cap")]
    assert (await capped.usage()).in_use == 1
    assert (await capped.counters())["released:session_cap"] == 1


async def test_a_lower_cap_ends_every_session_past_it_at_the_next_sign_in(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    for tab in range(5):
        await engine.admit("bob@x.org", f"bob-{tab}")
        advance(engine, 10)
    lower = twin(engine, max_sessions_per_person=2)
    decision = await lower.admit("bob@x.org", "bob-5")
    assert decision.ended_sessions == ("bob-0", "bob-1", "bob-2", "bob-3")
    assert await engine.store.hlen(engine.keys.sessions("bob@x.org")) == 2


async def test_a_person_refused_for_a_full_line_counts_once_per_refusal(
    engine: LicenceEngine,
) -> None:
    short = twin(engine, queue_max=2, queue_grace=120)
    await short.configure(concurrent_seats=1, named_seats=0)
    await short.admit("a@x.org", "a")
    await short.admit("w1@x.org", "w1")
    await short.admit("w2@x.org", "w2")
    for _ in range(40):  # 200 s of pages asking again every 5 s
        for waiter in ("w1", "w2"):
            assert (await short.admit(f"{waiter}@x.org", waiter)).outcome == "pool_full"
        for person in ("x", "y", "z"):
            refused = await short.admit(f"{person}@x.org", person)
            assert (refused.outcome, refused.position) == ("queue_full", 0)
        advance(short, 5)
    denied = events_of(await audit_events(engine), "denied")
    assert [(e["user"], e["reason"]) for e in denied if e["reason"] == "queue_full"] == [
        ("x@x.org", "queue_full"),
        ("y@x.org", "queue_full"),
        ("z@x.org", "queue_full"),
    ]
    usage = await short.usage()
    assert usage.denials_24h == 2 + 3  # the two who joined the line, and x, y and z once each
    assert (await short.counters())["denied:queue_full"] == 3
    # Asking again after the refusal has lapsed (no ask within the grace) is a new refusal.
    advance(short, 100)
    for waiter in ("w1", "w2"):
        await short.admit(f"{waiter}@x.org", waiter)
    advance(short, 21)
    assert (await short.admit("x@x.org", "x")).outcome == "queue_full"
    assert (await short.counters())["denied:queue_full"] == 4


async def test_a_waiters_poll_is_one_call_and_a_renewal_one_small_one(
    engine: LicenceEngine,
) -> None:
    calls: list[float] = []
    engine.timer = calls.append  # called once per call to the store
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("a@x.org", "a")
    calls.clear()
    assert (await engine.heartbeat("a@x.org", "a")).outcome == "renewed"
    assert len(calls) == 1  # renew.lua alone
    assert (await engine.admit("w@x.org", "w")).outcome == "pool_full"
    calls.clear()
    for _ in range(3):  # the waiting page asks again
        assert (await engine.heartbeat("w@x.org", "w")).position == 1
    assert len(calls) == 3  # straight to the full heartbeat: the renewal cannot answer a waiter
    await engine.release("a@x.org", "a")
    assert (await engine.heartbeat("w@x.org", "w")).outcome == "readmitted"
    calls.clear()
    assert (await engine.heartbeat("w@x.org", "w")).outcome == "renewed"
    assert len(calls) == 1
