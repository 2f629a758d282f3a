"""The named/concurrent split recommended from live usage: the planner's optimum on the sessions
recorded over ``HALO_GATE_HISTORY_DAYS``, beside the configuration in force.

It is computed once per installation, not per worker: the result is kept in the store with
what it was computed from (the prices, the seats in force, the retention, the harvest threshold
weighed and the extent of the record: up to the moment the run began). Every worker and the
CLI serve it while it is fresh: for 30 times as long as the run took, at least five minutes.
Then the first request to take the store's lock starts a new run (see ``planner_run``: a
process of its own, bounded in time and memory), and until it ends every request answers
``"status": "computing"``. A run past its bound is kept as ``"status": "failed"`` with the
reason, and retried as late as a result.

Beside the split, the run weighs harvesting idle slots (``harvesting``): after the
installation's ``HALO_GATE_HARVEST_IDLE`` when it harvests, else after ``HARVEST_EXAMPLE``
seconds, what the same record would have needed (see ``planning.harvesting``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import LockError, RedisError

from .. import extras
from ..config import Settings
from ..licensing import LicenceEngine, StoreUnavailable, Usage
from ..licensing.records import now, record_length, session_record
from ..planner.cost import CostComparison
from .export import iso, period
from .planner_run import Bounds, run_planner

logger = logging.getLogger("halo_gate")

# Fewer recorded sessions than this say nothing about a pool's size.
MIN_SESSIONS = 10
# A result is served for REUSE_RATIO times as long as its run took, and at least REUSE_MIN
# seconds, so that recomputing takes at most 1/30 of a core.
REUSE_RATIO = 30
REUSE_MIN = 300.0
# How long the request that starts a run waits for it before answering "computing": small
# records are planned within it.
WAIT = 2.0
# The lock outlives the run's bound by this much; a worker that died frees it then.
LOCK_MARGIN = 60.0
KEEP = 7 * 86400  # seconds the stored result outlives its installation's last request
DAY = 86400
# The harvest threshold weighed where the installation does not harvest: ten minutes.
HARVEST_EXAMPLE = 600

Prices = tuple[float, float, float]


def _prices(settings: Settings) -> Prices | None:
    if settings.price_named is None or settings.price_concurrent is None:
        return None
    named_only = settings.price_named_only
    return (
        settings.price_named,
        settings.price_concurrent,
        (settings.price_named if named_only is None else named_only),
    )


def _cost(usage: Usage, prices: Prices, people: int) -> dict[str, Any]:
    return CostComparison(
        named=usage.named_seats,
        price_named=prices[0],
        concurrent=usage.concurrent_seats,
        price_concurrent=prices[1],
        named_only=people,
        price_named_only=prices[2],
    ).as_json()


def harvest_threshold(settings: Settings) -> int | None:
    """The harvest threshold to weigh (seconds): the installation's, else ``HARVEST_EXAMPLE``
    where the installation could set it (below the idle timeout, at least two heartbeats)."""
    if settings.harvest_idle:
        return settings.harvest_idle
    if 2 * settings.heartbeat_interval <= HARVEST_EXAMPLE < settings.idle_timeout:
        return HARVEST_EXAMPLE
    return None


def reuse_for(seconds: float) -> float:
    """How long a result whose run took ``seconds`` is served."""
    return max(REUSE_MIN, REUSE_RATIO * seconds)


class Recommender:
    """The installation's recommendation for one worker (or the CLI): served from the store,
    computed by whichever of them takes the lock first."""

    def __init__(
        self,
        engine: LicenceEngine,
        settings: Settings,
        *,
        bounds: Bounds | None = None,
        wait: float = WAIT,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.bounds = bounds or Bounds()
        self.wait = wait
        self._runs: set[asyncio.Task[None]] = set()

    async def get(self) -> dict[str, Any]:
        """The object of ``GET /_halo/api/recommendation`` (and ``halo-gate recommend``)."""
        usage = await self.engine.usage()
        answer: dict[str, Any] = {
            "currency": self.settings.currency,
            "history_days": self.settings.history_days,
            "current": {"named": usage.named_seats, "concurrent": usage.concurrent_seats},
        }
        prices = _prices(self.settings)
        if prices is None:
            answer["status"] = "no_prices"
            answer["message"] = (
                "Set HALO_GATE_PRICE_NAMED and HALO_GATE_PRICE_CONCURRENT to compare costs."
            )
            return answer
        at = await now(self.engine)
        today = datetime.fromtimestamp(at, UTC).date()
        since, until = period(None, None, history_days=self.settings.history_days, today=today)
        days = (since // DAY, int(at) // DAY)
        closed = await record_length(self.engine, *days)
        if closed + usage.in_use + usage.named_active < MIN_SESSIONS:
            few = await self._too_little(answer, usage, prices, since, until)
            if few is not None:
                return few
        missing = extras.missing("planner", "recommend")
        if missing is not None:
            answer["status"] = "no_planner"
            answer["message"] = missing
            return answer
        key = {
            "prices": list(prices),
            "current": [usage.named_seats, usage.concurrent_seats],
            "history_days": self.settings.history_days,
            # The harvest saving's sentence names the threshold, whether it is on, and money.
            "harvesting": [
                harvest_threshold(self.settings),
                bool(self.settings.harvest_idle),
                self.settings.idle_timeout,
                self.settings.currency,
            ],
        }
        stored = await self._stored(key, at)
        if stored is None:
            run = await self._start(key, at, since, until, days)
            if run is not None:
                await asyncio.wait({run}, timeout=self.wait)
                stored = await self._stored(key, at)
        if stored is None:
            return await self._computing(answer, since)
        return _answer(answer, usage, prices, stored)

    @property
    def computing(self) -> bool:
        """Whether a run this worker started is still going."""
        return bool(self._runs)

    async def join(self) -> None:
        """Waits until the runs this worker started have ended and stored their outcome."""
        await asyncio.gather(*self._runs)

    async def _too_little(
        self, answer: dict[str, Any], usage: Usage, prices: Prices, since: int, until: int
    ) -> dict[str, Any] | None:
        """The answer when fewer than ``MIN_SESSIONS`` sessions are recorded, else None.
        Called only when few are closed and few people are online, so the read is small."""
        records = [s async for s in session_record(self.engine, since, until)]
        if len(records) >= MIN_SESSIONS:
            return None
        answer["sessions"] = len(records)
        answer["people"] = len({s.person for s in records})
        answer["cost"] = _cost(usage, prices, answer["people"])
        answer["status"] = "too_little_data"
        answer["message"] = (
            f"Sessions recorded so far: {len(records)}; a recommendation needs at least "
            f"{MIN_SESSIONS}, and is sounder with weeks of use."
        )
        return answer

    async def _stored(self, key: dict[str, Any], at: float) -> dict[str, Any] | None:
        """The stored result if it was computed for ``key`` and is still fresh at ``at``."""
        try:
            raw = await self.engine.store.get(self.engine.keys.recommendation)
        except RedisError as error:
            raise StoreUnavailable(str(error)) from error
        if raw is None:
            return None
        stored: dict[str, Any] = json.loads(raw)
        if stored.get("key") != key or at - stored["finished_at"] > reuse_for(stored["seconds"]):
            return None
        return stored

    async def _start(
        self, key: dict[str, Any], at: float, since: int, until: int, days: tuple[int, int]
    ) -> asyncio.Task[None] | None:
        """Starts a run if no worker is running one (None otherwise)."""
        lock = self.engine.store.lock(
            self.engine.keys.recommendation_lock,
            timeout=self.bounds.seconds + LOCK_MARGIN,
            blocking=False,
        )
        try:
            if not await lock.acquire(token=f"{at:.0f} {uuid.uuid4().hex}"):
                return None
        except RedisError as error:
            raise StoreUnavailable(str(error)) from error
        run = asyncio.create_task(self._run(lock, key, at, since, until, days))
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)
        return run

    async def _run(
        self,
        lock: Any,
        key: dict[str, Any],
        at: float,
        since: int,
        until: int,
        days: tuple[int, int],
    ) -> None:
        began = time.monotonic()
        params = {
            "since": since,
            "until": until,
            "prices": key["prices"],
            "current": key["current"],
            "time_limit": self.bounds.search_seconds,
        }
        threshold, enabled, idle_timeout, currency = key["harvesting"]
        if threshold is not None:
            params["harvesting"] = {
                "harvest_idle": threshold,
                "enabled": enabled,
                "idle_timeout": idle_timeout,
                "currency": currency,
            }
        try:
            outcome = await run_planner(self.engine, self.bounds, params, days)
            stored = {
                **outcome,
                "key": key,
                "extent": {"since": since, "until": int(at)},
                "finished_at": await now(self.engine),
                "seconds": round(time.monotonic() - began, 3),
            }
            await self.engine.store.set(
                self.engine.keys.recommendation, json.dumps(stored), ex=KEEP
            )
        except (StoreUnavailable, RedisError) as error:
            logger.warning("The recommendation was not computed: %s", error)
        finally:
            with contextlib.suppress(LockError, RedisError):
                await lock.release()

    async def _computing(self, answer: dict[str, Any], since: int) -> dict[str, Any]:
        try:
            token = await self.engine.store.get(self.engine.keys.recommendation_lock)
        except RedisError as error:
            raise StoreUnavailable(str(error)) from error
        answer["status"] = "computing"
        answer["message"] = (
            f"The recommendation is being computed from the sessions recorded since {iso(since)}."
        )
        if token is not None:
            started = int((token.decode() if isinstance(token, bytes) else token).split()[0])
            answer["started_at"] = iso(started)
        return answer


def _answer(
    answer: dict[str, Any], usage: Usage, prices: Prices, stored: dict[str, Any]
) -> dict[str, Any]:
    answer["computed_at"] = iso(stored["finished_at"])
    answer["seconds"] = stored["seconds"]
    if stored["status"] != "ok":
        answer["status"] = "failed"
        answer["message"] = stored["reason"]
        return answer
    answer["status"] = "ok"
    answer["sessions"] = stored["sessions"]
    answer["people"] = stored["people"]
    answer["cost"] = _cost(usage, prices, stored["people"])
    answer["plan"] = stored["plan"]
    if "harvesting" in stored:
        answer["harvesting"] = stored["harvesting"]
    answer["days_recorded"] = round((stored["extent"]["until"] - stored["first"]) / DAY, 1)
    return answer
