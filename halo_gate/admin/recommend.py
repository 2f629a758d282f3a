"""The named/concurrent split recommended from live usage: the planner's exact optimum on the
sessions recorded over ``HALO_GATE_HISTORY_DAYS``, beside the configuration in force.

The optimiser runs in a thread, never on the event loop, and its answer is kept for a few
minutes: the console polls, and usage over weeks hardly moves in that time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from .. import extras
from ..config import Settings
from ..licensing import LicenceEngine
from ..licensing.records import now, session_record
from ..planner.cost import CostComparison
from .export import period

# Fewer recorded sessions than this say nothing about a pool's size.
MIN_SESSIONS = 10
CACHE_SECONDS = 300.0


async def recorded(engine: LicenceEngine, settings: Settings) -> list[tuple[str, int, int]]:
    """(person, start, end) of every session over the retention, open ones ending now."""
    today = datetime.fromtimestamp(await now(engine), UTC).date()
    since, until = period(None, None, history_days=settings.history_days, today=today)
    return [(s.person, s.start, s.end) async for s in session_record(engine, since, until)]


def _prices(settings: Settings) -> tuple[float, float, float] | None:
    if settings.price_named is None or settings.price_concurrent is None:
        return None
    named_only = settings.price_named_only
    return (
        settings.price_named,
        settings.price_concurrent,
        (settings.price_named if named_only is None else named_only),
    )


def _plan(
    records: list[tuple[str, int, int]], prices: tuple[float, float, float], named: int, pool: int
) -> dict[str, Any]:
    from ..planner.plan import Current, plan_records  # SciPy loads only here

    plan = plan_records(
        records,
        price_named=prices[0],
        price_concurrent=prices[1],
        price_named_only=prices[2],
        current=Current(named, pool),
    )
    return plan.as_json()


async def recommendation(engine: LicenceEngine, settings: Settings) -> dict[str, Any]:
    """The object of ``GET /_halo/api/recommendation`` (and ``halo-gate recommend --json``)."""
    usage = await engine.usage()
    records = await recorded(engine, settings)
    people = len({person for person, _, _ in records})
    answer: dict[str, Any] = {
        "currency": settings.currency,
        "history_days": settings.history_days,
        "sessions": len(records),
        "people": people,
        "current": {"named": usage.named_seats, "concurrent": usage.concurrent_seats},
    }
    prices = _prices(settings)
    if prices is None:
        answer["status"] = "no_prices"
        answer["message"] = (
            "Set HALO_GATE_PRICE_NAMED and HALO_GATE_PRICE_CONCURRENT to compare costs."
        )
        return answer
    answer["cost"] = CostComparison(
        named=usage.named_seats,
        price_named=prices[0],
        concurrent=usage.concurrent_seats,
        price_concurrent=prices[1],
        named_only=people,
        price_named_only=prices[2],
    ).as_json()
    if len(records) < MIN_SESSIONS:
        answer["status"] = "too_little_data"
        answer["message"] = (
            f"Sessions recorded so far: {len(records)}; a recommendation needs at least "
            f"{MIN_SESSIONS}, and is sounder with weeks of use."
        )
        return answer
    missing = extras.missing("planner", "recommend")
    if missing is not None:
        answer["status"] = "no_planner"
        answer["message"] = missing
        return answer
    answer["status"] = "ok"
    answer["plan"] = await asyncio.to_thread(
        _plan, records, prices, usage.named_seats, usage.concurrent_seats
    )
    first = min(start for _, start, _ in records)
    answer["days_recorded"] = round((await now(engine) - first) / 86400, 1)
    return answer


class Recommender:
    """One worker's cached recommendation, recomputed at most every ``CACHE_SECONDS``."""

    def __init__(self, engine: LicenceEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = asyncio.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    async def get(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_SECONDS:
                answer = await recommendation(self.engine, self.settings)
                answer["computed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                self._cached = (time.monotonic(), answer)
            return self._cached[1]
