"""What the engine has recorded, read back for administrators: closed sessions (the session
record), the audit stream and the per-minute usage history.

These are plain reads of keys the scripts write (see ``scripts/context.lua`` for their layout);
none of them decides anything, so none needs a script.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from redis.exceptions import RedisError

from .engine import LicenceEngine, StoreUnavailable
from .results import LicenceType

EndReason = Literal[
    "logout", "idle", "max_age", "admin", "unassigned", "session_cap", "harvested", "open"
]

_REASONS: dict[str, EndReason] = {
    "l": "logout",
    "i": "idle",
    "m": "max_age",
    "a": "admin",
    "u": "unassigned",
    "s": "session_cap",
    "o": "open",  # never stored: sessions still open, encoded alike (``encode_entry``)
    "h": "harvested",
}
_REASON_CODES = {reason: code for code, reason in _REASONS.items()}
_LICENCES: dict[str, LicenceType] = {"n": "named", "c": "concurrent"}
DAY = 86400
MINUTE = 60
# Entries read per LRANGE / XREVRANGE call, so that no single call blocks the server for long.
CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ClosedSession:
    person: str
    licence: LicenceType
    start: int  # epoch seconds
    end: int
    end_reason: EndReason


def decode_entry(entry: Any) -> ClosedSession:
    """One entry of a ``record:D`` list: "<start> <duration> <reason><licence><person>"."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    start, duration, rest = text.split(" ", 2)
    return ClosedSession(
        person=rest[2:],
        licence=_LICENCES[rest[1]],
        start=int(start),
        end=int(start) + int(duration),
        end_reason=_REASONS[rest[0]],
    )


def encode_entry(session: ClosedSession) -> str:
    """The entry ``decode_entry`` reads back."""
    duration = session.end - session.start
    return (
        f"{session.start} {duration} {_REASON_CODES[session.end_reason]}"
        f"{session.licence[0]}{session.person}"
    )


async def now(engine: LicenceEngine) -> float:
    """The scripts' clock: the store's time plus the engine's offset (0 outside tests)."""
    try:
        seconds, micros = await engine.store.time()
    except RedisError as error:
        raise StoreUnavailable(str(error)) from error
    return seconds + micros / 1e6 + engine.clock_offset


async def record_chunks(
    engine: LicenceEngine, first_day: int, last_day: int
) -> AsyncIterator[list[bytes | str]]:
    """The entries of sessions recorded on days ``first_day`` to ``last_day`` (days since the
    epoch) as stored, up to ``CHUNK`` at a time, in the order they were recorded: closed on that
    day, or found that day to have idled out earlier (their end says when). Reading on to today
    finds every session that ended in the period."""
    try:
        for day in range(first_day, last_day + 1):
            key = engine.keys.record(day)
            offset = 0
            while True:
                entries: list[bytes | str] = await engine.store.lrange(
                    key, offset, offset + CHUNK - 1
                )
                if entries:
                    yield entries
                if len(entries) < CHUNK:
                    break
                offset += CHUNK
    except RedisError as error:
        raise StoreUnavailable(str(error)) from error


async def record_length(engine: LicenceEngine, first_day: int, last_day: int) -> int:
    """How many sessions closed on days ``first_day`` to ``last_day``."""
    try:
        async with engine.store.pipeline(transaction=False) as pipe:
            for day in range(first_day, last_day + 1):
                pipe.llen(engine.keys.record(day))
            lengths: list[int] = await pipe.execute()
    except RedisError as error:
        raise StoreUnavailable(str(error)) from error
    return sum(lengths)


async def closed_sessions(
    engine: LicenceEngine, first_day: int, last_day: int
) -> AsyncIterator[ClosedSession]:
    """Sessions that closed on days ``first_day`` to ``last_day`` (days since the epoch), in
    order of their end day, then of their closing."""
    async for entries in record_chunks(engine, first_day, last_day):
        for entry in entries:
            yield decode_entry(entry)


async def session_record(
    engine: LicenceEngine, since: int, until: int
) -> AsyncIterator[ClosedSession]:
    """Every session that overlaps [since, until) (epoch seconds): the closed ones from the
    record, then the ones still open, ended now with the reason ``open``."""
    at = await now(engine)
    for_days = (since // DAY, int(at) // DAY)
    async for closed in closed_sessions(engine, *for_days):
        if closed.end >= since and closed.start < until:
            yield closed
    if at < since:
        return
    _, live = await engine.sessions()
    for session in live:
        if session.since < until:
            yield ClosedSession(
                session.person, session.licence, int(session.since), int(at), "open"
            )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[dict[str, str]]  # newest first; each has "id", "event", "at", "user", ...
    next_before: str | None  # the id to pass as ``before`` for the next page, None at the end
    scanned: int = 0  # entries read to answer; a filtered page stops at the scan limit


# Entries read per call of a filtered page, and at most per page. A person's entries are found
# through the stream's index by person (see trail.lua); an event or a reason alone has no
# index, so that filter is a bounded walk back in time. Either answers with where it stopped
# (``next_before``) for the next page to carry on.
FILTER_CHUNK = 250
FILTER_SCAN = 5000


# The largest sequence number of an entry id: an id given without one ("ms") stands for the
# last entry of that millisecond, as Redis reads the end of a range.
LAST_SEQ = str(2**64 - 1)


def indexed_id(entry_id: str) -> str:
    """An audit entry's id as the index by person writes it (trail.lua's indexed_id())."""
    ms, _, seq = entry_id.partition("-")
    return f"{ms:0>20}-{seq or LAST_SEQ:0>20}"


def _entry_id(indexed: str) -> str:
    ms, seq = indexed.split("-")
    return f"{int(ms)}-{int(seq)}"


async def events(
    engine: LicenceEngine,
    *,
    limit: int = 50,
    before: str | None = None,
    person: str | None = None,
    event: str | None = None,
    reason: str | None = None,
    scan_limit: int = FILTER_SCAN,
) -> EventPage:
    """The audit stream, newest first, optionally only one person's, one kind of event or one
    reason. Unfiltered, a page is one ``XREVRANGE ... COUNT limit + 1``: O(log n + page). A
    person's page reads their range of the index and those entries: O(log n) each. Filtered
    by event or reason, at most ``scan_limit`` entries (of the stream, or of the person's) are
    read, FILTER_CHUNK per call; the page may then hold fewer than ``limit`` events, with
    ``next_before`` set to carry on from there."""
    read = _persons(engine, person, before) if person is not None else _stream(engine, before)
    filtered = event is not None or reason is not None
    found: list[dict[str, str]] = []
    scanned, last = 0, before
    try:
        while len(found) < limit and scanned < scan_limit:
            count = min(FILTER_CHUNK, scan_limit - scanned) if filtered else limit - len(found) + 1
            chunk = await read(count)
            for entry_id, entry in chunk:
                if len(found) == limit:
                    # One entry past the page: there is more, from this page's last event.
                    return EventPage(found, found[-1]["id"], scanned)
                scanned, last = scanned + 1, entry_id
                if entry is None or (person is not None and entry.get("user") != person):
                    continue  # trimmed from the stream since it was indexed
                if (event is None or entry.get("event") == event) and (
                    reason is None or entry.get("reason") == reason
                ):
                    found.append({"id": entry_id, **entry})
            if len(chunk) < count:
                return EventPage(found, None, scanned)
    except RedisError as error:
        raise StoreUnavailable(str(error)) from error
    return EventPage(found, last, scanned)


# Up to ``count`` more entries, newest first, each an id and its fields (None: gone).
Chunk = list[tuple[str, dict[str, str] | None]]


def _fields(raw: Any) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _stream(engine: LicenceEngine, before: str | None) -> Callable[[int], Awaitable[Chunk]]:
    """The stream's entries from ``before`` back."""
    high = "+" if before is None else f"({before}"

    async def read(count: int) -> Chunk:
        nonlocal high
        raw = await engine.store.xrevrange(engine.keys.audit, max=high, min="-", count=count)
        chunk: Chunk = [(_text(entry_id), _fields(fields)) for entry_id, fields in raw or []]
        if chunk:
            high = f"({chunk[-1][0]}"
        return chunk

    return read


def _persons(
    engine: LicenceEngine, person: str, before: str | None
) -> Callable[[int], Awaitable[Chunk]]:
    """``person``'s entries from ``before`` back, through the index by person: a range of it,
    then each entry by its id."""
    store, keys = engine.store, engine.keys
    prefix = person + "\0"
    # The person's members sort between "person\0" and "person\1".
    low, high = "[" + prefix, "(" + (prefix + indexed_id(before) if before else person + "\1")

    async def read(count: int) -> Chunk:
        nonlocal high
        members = [
            _text(m) for m in await store.zrevrangebylex(keys.audit_people, high, low, 0, count)
        ]
        if not members:
            return []
        high = "(" + members[-1]
        ids = [_entry_id(member[len(prefix) :]) for member in members]
        pipe = store.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(keys.audit, min=entry_id, max=entry_id, count=1)
        found = await pipe.execute()
        return [
            (entry_id, _fields(got[0][1]) if got else None)
            for entry_id, got in zip(ids, found, strict=True)
        ]

    return read


@dataclass(frozen=True, slots=True)
class Minute:
    at: int  # epoch seconds of the minute's start
    peak: int | None  # most slots in use at an admission in that minute; None: no admission
    admissions: int
    denials: int


async def _day_fields(engine: LicenceEngine, day: int) -> dict[int, dict[str, int]]:
    try:
        raw: dict[Any, Any] = await engine.store.hgetall(engine.keys.history(day))
    except RedisError as error:
        raise StoreUnavailable(str(error)) from error
    minutes: dict[int, dict[str, int]] = {}
    for name, value in raw.items():
        field = _text(name)
        # The per-minute fields; the hourly ones (upper case) are usage()'s.
        if field[0] in "padf":
            minutes.setdefault(int(field[1:]), {})[field[0]] = int(value)
    return minutes


async def minutes(engine: LicenceEngine, *, at: float, count: int = 1440) -> list[Minute]:
    """The last ``count`` minutes up to ``at`` (epoch seconds), oldest first."""
    last = int(at) // MINUTE
    first = last - count + 1
    recorded: dict[int, dict[str, int]] = {}
    for day in range(first // 1440, last // 1440 + 1):
        recorded.update(await _day_fields(engine, day))
    series = []
    for minute in range(first, last + 1):
        fields = recorded.get(minute, {})
        series.append(
            Minute(minute * MINUTE, fields.get("p"), fields.get("a", 0), fields.get("d", 0))
        )
    return series


@dataclass(frozen=True, slots=True)
class Day:
    at: int  # epoch seconds of the day's start (UTC)
    peak: int  # most slots in use at any admission that day
    admissions: int
    denials: int


async def days(engine: LicenceEngine, *, at: float, count: int) -> list[Day]:
    """The last ``count`` days up to ``at``, oldest first."""
    today = int(at) // DAY
    series = []
    for day in range(today - count + 1, today + 1):
        fields = (await _day_fields(engine, day)).values()
        series.append(
            Day(
                day * DAY,
                max((f.get("p", 0) for f in fields), default=0),
                sum(f.get("a", 0) for f in fields),
                sum(f.get("d", 0) for f in fields),
            )
        )
    return series
