"""A few weeks of recorded use for the demo, so that its cost panel and recommended split show
at once instead of waiting for weeks of real sign-ins.

The planner's simulator draws the guide's organisation (500 people: agents who live in the tool
and occasional HR, Finance, Facilities and self-service users) over the weeks before today, and
each simulated session is written to the session record exactly as the scripts record a closed
one (see ``closed()`` in ``licensing/scripts/common.lua``): the recommendation reads it like
any other. Nothing else is touched: the live figures and charts stay the demo's own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ..licensing import LicenceEngine
from ..planner.profiles import GUIDE
from ..planner.simulate import simulate

SEED = 7
DAY = 86400


async def seed_record(engine: LicenceEngine, *, days: int, retention_days: int) -> int:
    """Record ``days`` simulated days ending yesterday (UTC); returns the sessions written."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=days)
    by_day: dict[int, list[str]] = {}
    for person, _, begin, end, reason in simulate(GUIDE, days=days, seed=SEED, start=start):
        # "<start s> <duration s> <reason><licence><person>": a concurrent user's session that
        # ended by logout ("l") or by idling out ("i").
        code = "i" if reason == "idle" else "l"
        by_day.setdefault(end // DAY, []).append(f"{begin} {end - begin} {code}c{person}")
    ttl = (retention_days + 1) * DAY
    async with engine.store.pipeline(transaction=False) as pipe:
        for day, entries in by_day.items():
            if day >= _day(today):
                continue  # today's record is the demo's own
            pipe.rpush(engine.keys.record(day), *entries)
            pipe.expire(engine.keys.record(day), ttl)
        await pipe.execute()
    return sum(len(e) for d, e in by_day.items() if d < _day(today))


def _day(when: date) -> int:
    return int(datetime(when.year, when.month, when.day, tzinfo=UTC).timestamp()) // DAY
