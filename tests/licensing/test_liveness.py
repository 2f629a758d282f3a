"""``check`` (is a session still live, renewing nothing) and ``claim_once`` (a sign-in's state
spent on every worker), as a contract every store keeps (real Redis and fakeredis)."""

from __future__ import annotations

import asyncio

from halo_gate.licensing import LicenceEngine

IDLE = 1800
MAX_AGE = 43200


async def configured(engine: LicenceEngine) -> LicenceEngine:
    await engine.configure(concurrent_seats=2, named_seats=0)
    return engine


async def test_check_reports_live_and_renews_nothing(engine: LicenceEngine) -> None:
    await configured(engine)
    assert (await engine.admit("p@example.com", "s1")).admitted
    engine.clock_offset += IDLE - 10
    assert await engine.check("p@example.com", "s1") == "live"
    engine.clock_offset += 20  # the check renewed nothing: the session idles out on time
    assert await engine.check("p@example.com", "s1") == "lost"
    assert (await engine.usage()).in_use == 0


async def test_check_reports_ended_after_logout_and_admin_end(engine: LicenceEngine) -> None:
    await configured(engine)
    for session in ("out", "ended"):
        assert (await engine.admit("p@example.com", session)).admitted
    await engine.release("p@example.com", "out")
    await engine.end_session("p@example.com", "ended", by="admin@example.com")
    assert await engine.check("p@example.com", "out") == "ended"
    assert await engine.check("p@example.com", "ended") == "ended"
    assert await engine.check("p@example.com", "never") == "lost"


async def test_check_reports_ended_past_the_maximum_age(engine: LicenceEngine) -> None:
    await configured(engine)
    assert (await engine.admit("p@example.com", "old")).admitted
    for _ in range(MAX_AGE // (IDLE // 2)):
        engine.clock_offset += IDLE // 2
        await engine.heartbeat("p@example.com", "old")
    engine.clock_offset += IDLE // 2
    assert await engine.check("p@example.com", "old") == "ended"


async def test_a_state_is_claimed_once_among_many_concurrent_claims(engine: LicenceEngine) -> None:
    claims = await asyncio.gather(*(engine.claim_once("state-1", ttl=60) for _ in range(50)))
    assert claims.count(True) == 1
    assert await engine.claim_once("state-2", ttl=60)
    ttl = await engine.store.ttl(engine.keys.key("spent:state-1"))
    assert 0 < ttl <= 60
