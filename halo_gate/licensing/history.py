"""Usage over time, for the console's charts: the last 24 hours per minute, 7 days per hour and
30 days per four hours, each point with the peak in use, admissions, denials and the waiting
line's length; and the capacity as it was at each time, from the changes recorded.

A read costs O(points), not O(history): a range of minutes is read field by field (HMGET),
and a range of hours from each day's rollup (``rollup:D``, one field per hour), which is summed
from the per-minute history once, when the console first asks for an hour that is over. Past
minutes never change (the scripts write only to the current one), so a rollup never goes stale.

The decision scripts record the peak, admissions, denials and freed slots per minute; two
marks are recorded here, by the engine, beside them: capacity changes (``capacity_log``) and the
line's length per minute (field ``qM`` of the day's history, the farthest place a waiter was
told that minute, per worker at most once for each new farthest place).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from redis.exceptions import RedisError

from .estimate import WINDOWS, Holding, estimate_wait
from .reads import Engine
from .results import Decision, text

Range = Literal["24h", "7d", "30d"]
# span (s) and step (s) of each range's points
RANGES: dict[str, tuple[int, int]] = {
    "24h": (86400, 60),
    "7d": (7 * 86400, 3600),
    "30d": (30 * 86400, 4 * 3600),
}
KINDS = ("p", "a", "d", "q")  # peak in use, admissions, denials, the line's length
FREED_CACHE = 10.0  # seconds a worker reuses the slots freed lately, for the estimated wait
HOLDING_CACHE = 300.0  # and the last day's holding, which moves slowly


@dataclass(frozen=True, slots=True)
class Point:
    at: int  # epoch seconds of the point's start
    peak: int | None  # most slots in use at an admission in it; None: no admission
    admissions: int
    denials: int
    queue: int  # the line's longest in it (0: nobody waited, or nothing was recorded)


@dataclass(frozen=True, slots=True)
class CapacityChange:
    at: float  # epoch seconds; the first may be before the range: the capacity it began with
    concurrent: int
    named: int


@dataclass(frozen=True, slots=True)
class Series:
    range: str
    step: int
    now: float
    points: list[Point]
    changes: list[CapacityChange]


def _sum(minutes: list[dict[str, int]]) -> tuple[int, int, int, int]:
    """(peak or -1, admissions, denials, queue) over some minutes' fields."""
    peak = max((m["p"] for m in minutes if "p" in m), default=-1)
    return (
        peak,
        sum(m.get("a", 0) for m in minutes),
        sum(m.get("d", 0) for m in minutes),
        max((m.get("q", 0) for m in minutes), default=0),
    )


class History:
    """One engine's usage history reads and marks."""

    def __init__(self, engine: Engine, *, retention: int) -> None:
        self._engine = engine
        self._retention = retention  # seconds the history is kept
        # This worker's farthest place told in the current minute (by its clock): the line's
        # length is written only when it grows, so a line of waiters costs a few calls a minute.
        self._line: tuple[int, int] = (0, 0)
        # (when read, slots freed per minute over the last hour), for the estimated wait.
        self._freed: tuple[float, list[int]] | None = None
        self.freed_cache = FREED_CACHE
        self._day: tuple[float, Holding] | None = None

    # The marks

    async def capacity_changed(self, concurrent: int, named: int) -> None:
        """Record the capacity in force now, if it changed. Best effort, like every mark."""
        reads = self._engine.reads
        try:
            await reads.script(
                "capacity_log",
                [self._engine.keys.capacity_log],
                reads.offset_ms(),
                concurrent,
                named,
                self._retention * 1000,
            )
        except Exception:  # noqa: BLE001 - a mark never fails the decision it follows
            pass

    async def saw_line(self, position: int) -> None:
        """A waiter was told their place: the line was at least that long this minute."""
        engine = self._engine
        minute = int((time.time() + engine.clock_offset) // 60)
        if self._line[0] == minute and self._line[1] >= position:
            return
        self._line = (minute, position)
        day = minute // 1440
        try:
            for _ in range(2):
                other = await engine.reads.script(
                    "line_mark",
                    [engine.keys.history(day)],
                    engine.reads.offset_ms(),
                    day,
                    position,
                    self._retention,
                )
                if int(other) < 0:
                    return
                day = int(other)
        except Exception:  # noqa: BLE001 - a mark never fails the decision it follows
            pass

    async def waiting(self, decision: Decision) -> Decision:
        """A refusal with a place in line, its line length marked and its wait estimated from
        the slots freed over the last hour (see estimate.py); read at most every
        ``freed_cache`` seconds per worker."""
        await self.saw_line(decision.position)
        try:
            freed = await self._freed_lately()
            day = await self._holding()
        except Exception:  # noqa: BLE001 - the estimate is the scripts' then
            return decision
        found = estimate_wait(
            decision.position,
            freed,
            poll=self._engine.queue_poll,
            slots=decision.limit or decision.capacity,
            day=day,
        )
        if found is None:
            return replace(decision, estimated_wait=None, wait_range=None)
        return replace(
            decision,
            estimated_wait=found.typical,
            wait_range=(found.low, found.high),
            wait_thin=found.thin,
        )

    async def _freed_lately(self) -> list[int]:
        at = time.monotonic()
        if self._freed is not None and at - self._freed[0] < self.freed_cache:
            return self._freed[1]
        last = int(await self._engine.reads.now()) // 60
        freed = await self._freed_fields(last - WINDOWS[-1] + 1, last)
        self._freed = (at, freed)
        return freed

    async def _holding(self) -> Holding:
        """The last day's slot-seconds held and slots freed (for Little's law), read at most
        every ``HOLDING_CACHE`` seconds per worker: the level in use is the peak recorded at
        each minute's admissions, held until the next."""
        at = time.monotonic()
        if self._day is not None and at - self._day[0] < HOLDING_CACHE:
            return self._day[1]
        now = await self._engine.reads.now()
        last = int(now) // 60
        fields = await self._minutes(last - 1439, last)
        level, held, freed = 0, 0, 0
        for minute in range(last - 1439, last + 1):
            recorded = fields.get(minute, {})
            level = recorded.get("p", level)
            held += level * 60
        raw = await self._freed_fields(last - 1439, last)
        freed = sum(raw)
        self._day = (at, Holding(held, freed))
        return self._day[1]

    async def _freed_fields(self, first: int, last: int) -> list[int]:
        keys = self._engine.keys
        async with self._engine.store.pipeline(transaction=False) as pipe:
            for day in range(first // 1440, last // 1440 + 1):
                minutes = range(max(first, day * 1440), min(last, day * 1440 + 1439) + 1)
                pipe.hmget(keys.history(day), [f"f{m}" for m in minutes])
            replies: list[list[Any]] = await pipe.execute()
        return [int(value or 0) for values in replies for value in values]

    # The reads

    async def series(self, range_: str) -> Series:
        span, step = RANGES[range_]
        now = await self._engine.reads.now()
        last = int(now) // step
        first = last - span // step + 1
        if step == 60:
            fields = await self._minutes(first, last)
            points = [_point(m * 60, _sum([fields.get(m, {})])) for m in range(first, last + 1)]
        else:
            per = step // 3600
            hours = await self._hours(first * per, last * per + per - 1, int(now) // 3600)
            points = [
                _point(b * step, _merge([hours[h] for h in range(b * per, b * per + per)]))
                for b in range(first, last + 1)
            ]
        return Series(range_, step, now, points, await self._changes(first * step))

    async def _minutes(self, first: int, last: int) -> dict[int, dict[str, int]]:
        """The recorded fields of minutes ``first`` to ``last``: one HMGET per day touched."""
        keys, found = self._engine.keys, {}
        days = range(first // 1440, last // 1440 + 1)
        wanted = {
            day: [m for m in range(max(first, day * 1440), min(last, day * 1440 + 1439) + 1)]
            for day in days
        }
        try:
            async with self._engine.store.pipeline(transaction=False) as pipe:
                for day, minutes in wanted.items():
                    pipe.hmget(keys.history(day), [k + str(m) for m in minutes for k in KINDS])
                replies: list[list[Any]] = await pipe.execute()
        except RedisError as error:
            raise self._engine.reads.failed(error) from error
        for (_, minutes), values in zip(wanted.items(), replies, strict=True):
            for i, minute in enumerate(minutes):
                fields = {
                    k: int(values[i * len(KINDS) + j])
                    for j, k in enumerate(KINDS)
                    if values[i * len(KINDS) + j] is not None
                }
                if fields:
                    found[minute] = fields
        return found

    async def _hours(
        self, first: int, last: int, current: int
    ) -> dict[int, tuple[int, int, int, int]]:
        """Hours ``first`` to ``last``: from the days' rollups, summing (and keeping) any hour
        that is over and not yet rolled up; the current hour from its minutes."""
        keys, store = self._engine.keys, self._engine.store
        days = range(first // 24, last // 24 + 1)
        try:
            async with store.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(keys.rollup(day))
                rolled: list[dict[Any, Any]] = await pipe.execute()
        except RedisError as error:
            raise self._engine.reads.failed(error) from error
        hours: dict[int, tuple[int, int, int, int]] = {}
        for day, fields in zip(days, rolled, strict=True):
            for hour, value in fields.items():
                p, a, d, q = (int(x) for x in text(value).split())
                hours[day * 24 + int(text(hour))] = (p, a, d, q)
        missing = [h for h in range(first, min(last, current - 1) + 1) if h not in hours]
        for start in range(0, len(missing), 24):
            batch = missing[start : start + 24]
            minutes = await self._minutes(batch[0] * 60, batch[-1] * 60 + 59)
            await self._roll_up(batch, minutes, hours)
        if first <= current <= last:
            minutes = await self._minutes(current * 60, current * 60 + 59)
            hours[current] = _sum([minutes.get(current * 60 + m, {}) for m in range(60)])
        for h in range(first, last + 1):
            hours.setdefault(h, (-1, 0, 0, 0))
        return hours

    async def _roll_up(
        self,
        batch: list[int],
        minutes: dict[int, dict[str, int]],
        hours: dict[int, tuple[int, int, int, int]],
    ) -> None:
        keys = self._engine.keys
        try:
            async with self._engine.store.pipeline(transaction=False) as pipe:
                for hour in batch:
                    hours[hour] = _sum([minutes.get(hour * 60 + m, {}) for m in range(60)])
                    pipe.hset(
                        keys.rollup(hour // 24), str(hour % 24), " ".join(map(str, hours[hour]))
                    )
                    pipe.expire(keys.rollup(hour // 24), self._retention)
                await pipe.execute()
        except RedisError as error:
            raise self._engine.reads.failed(error) from error

    async def _changes(self, since: int) -> list[CapacityChange]:
        """The capacity changes since ``since`` (epoch s), led by the one in force then."""
        key, since_ms = self._engine.keys.capacity_log, since * 1000
        try:
            async with self._engine.store.pipeline(transaction=False) as pipe:
                pipe.zrevrangebyscore(key, f"({since_ms}", "-inf", start=0, num=1)
                pipe.zrangebyscore(key, since_ms, "+inf")
                before, during = await pipe.execute()
        except RedisError as error:
            raise self._engine.reads.failed(error) from error
        changes = []
        for entry in [*before, *during]:
            at, concurrent, named = (int(x) for x in text(entry).split())
            changes.append(CapacityChange(at / 1000, concurrent, named))
        return changes


def _merge(hours: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (
        max(h[0] for h in hours),
        sum(h[1] for h in hours),
        sum(h[2] for h in hours),
        max(h[3] for h in hours),
    )


def _point(at: int, summed: tuple[int, int, int, int]) -> Point:
    peak, admissions, denials, queue = summed
    return Point(at, None if peak < 0 else peak, admissions, denials, queue)
