"""What administrators can see and do, as JSON-ready objects: shared by the API and the CLI.

Every figure comes from the engine (and so from the store), never from a worker's memory, so
every worker and the CLI answer the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..licensing import LicenceEngine, PoolRulesError
from ..licensing.history import RANGES
from ..licensing.pools import as_text, normalise
from ..licensing.records import EventPage, events
from . import people
from .named import named_seats

DEFAULT_PAGE = 50
SEAT_FIELDS = ("concurrent_seats", "named_seats")
POOL_FIELDS = ("pool_reserve", "pool_cap")  # department pools: "group=N,..." or {group: N}
MAX_PAGE = 1000
# The most seats or slots of either kind: far above any organisation, far below what the
# store's integers and the engine's arithmetic hold.
MAX_SEATS = 10_000_000


class BadRequest(ValueError):
    """A client's mistake; the message is one sentence naming the parameter."""


class Conflict(BadRequest):
    """A well-formed request that does not fit the installation as it is (pool rules that
    reserve more than the pool holds, say); the message is one sentence."""


def whole(value: object) -> object:
    """A JSON number written with a fraction of zero (``5.0``) as the integer it is, as JSON
    Schema counts it; anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def seat_count(name: str, value: object) -> int:
    """``value`` (from JSON) as a number of seats or slots: a whole number, 0 to MAX_SEATS."""
    value = whole(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEATS:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise BadRequest(
            f"{name} has value {shown}. It must be a whole number from 0 to {MAX_SEATS:,}."
        )
    return value


def seat_count_text(name: str, text: str) -> int:
    """A number of seats or slots typed in a form or on the command line: ASCII digits only
    (``str.isdigit`` also takes "²", which ``int`` refuses), 0 to MAX_SEATS."""
    text = text.strip()
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_SEATS))
    return seat_count(name, int(text) if digits else text)


def page_bounds(offset: str | int | None, limit: str | int | None) -> tuple[int, int]:
    try:
        first = int(offset or 0)
        size = int(limit or DEFAULT_PAGE)
    except ValueError:
        raise BadRequest("offset and limit must be whole numbers.") from None
    if first < 0 or not 1 <= size <= MAX_PAGE:
        raise BadRequest(f"offset must be 0 or more and limit between 1 and {MAX_PAGE}.")
    return first, size


@dataclass(frozen=True, slots=True)
class Refused:
    """An action the engine refused, with the answer's JSON and HTTP status."""

    status: int
    body: dict[str, Any]


class Operations:
    """The administrators' reads and actions on one installation."""

    def __init__(self, engine: LicenceEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def usage(self) -> dict[str, Any]:
        """The object of ``GET /_halo/api/usage`` (and ``halo-gate status --json``)."""
        return (await self.engine.usage()).as_json()

    async def licences(
        self, *, search: str = "", offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> dict[str, Any]:
        """The object of ``GET /_halo/api/licences``: licence holders, people first."""
        page = await people.holders(self.engine, search=search, offset=offset, limit=limit)
        return people.licences_json(page, offset=offset, limit=limit)

    async def sessions(
        self, *, search: str = "", offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> dict[str, Any]:
        page = await people.holders(self.engine, search=search, offset=offset, limit=limit)
        return people.sessions_json(page, offset=offset, limit=limit)

    async def end_session(
        self, session_id: str, *, by: str, person: str | None = None
    ) -> dict[str, Any] | None:
        """End the live session with this id; None when there is none."""
        return await people.end_session(self.engine, session_id, by=by, person=person)

    async def end_licence(self, person: str, *, by: str) -> dict[str, Any] | None:
        """End every session of ``person``; None when they hold no licence."""
        return await people.end_licence(self.engine, person, by=by)

    async def queue(self, *, offset: int = 0, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
        """The object of ``GET /_halo/api/queue``: the waiting line in the order it is served."""
        page = await self.engine.reads.line(offset=offset, limit=limit)
        return people.queue_json(page, offset=offset, limit=limit)

    async def dequeue(self, person: str, *, by: str) -> bool:
        """Take ``person`` out of the line; False when they are not in it."""
        return await self.engine.reads.dequeue(person.strip().lower(), by=by)

    async def named(self) -> dict[str, Any]:
        return await named_seats(self.engine)

    async def assign(self, person: str, *, by: str) -> Refused | dict[str, Any]:
        person = person.strip().lower()
        if not person:
            raise BadRequest("The person to assign a named seat to is empty.")
        outcome = await self.engine.assign(person, by=by)
        if outcome != "no_seat":
            return {"person": person, "outcome": outcome}
        seats = await named_seats(self.engine)
        if len(seats["assigned"]) < seats["seats"] and seats["quarantined"]:
            # A seat exists but is cooling down after being taken from someone else.
            first = min(seats["quarantined"], key=lambda q: q["until"])
            wait = max(1, int(first["until"] - seats["now"]))
            minutes = max(1, round(wait / 60))
            return Refused(
                409,
                {
                    "error": "cooldown",
                    "message": f"No seat for {person}: the free seat cools down for {minutes} "
                    "more minutes.",
                    "person": person,
                    "until": first["until"],
                    "retry_after": wait,
                },
            )
        return Refused(
            409,
            {
                "error": "no_seat",
                "message": f"No named seat is free for {person}.",
                "person": person,
                "seats": seats["seats"],
            },
        )

    async def unassign(self, person: str, *, by: str) -> bool:
        return await self.engine.unassign(person.strip().lower(), by=by)

    async def capacity(self) -> dict[str, Any]:
        """The object of ``GET /_halo/api/capacity``: the seats, slots and pool rules in force."""
        concurrent, named = await self.engine.reads.capacity()
        rules = await self.engine.pools()
        return {
            "concurrent_seats": concurrent,
            "named_seats": named,
            "pool_reserve": as_text(rules.reserve),
            "pool_cap": as_text(rules.cap),
        }

    async def resize(self, body: Any, *, by: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.keys() & {*SEAT_FIELDS, *POOL_FIELDS}:
            raise BadRequest(
                "Send a JSON object with concurrent_seats, named_seats, pool_reserve and/or "
                "pool_cap."
            )
        unknown = sorted(body.keys() - {*SEAT_FIELDS, *POOL_FIELDS})
        if unknown:
            raise BadRequest(f"The body holds {unknown[0][:40]!r}, which is no capacity field.")
        rules = {}
        for name in POOL_FIELDS:
            if body.get(name) is not None:
                given = body[name]
                if not isinstance(given, str | dict):
                    shown = repr(given)[:40]
                    raise BadRequest(
                        f"{name} has value {shown}. It must be text (group=N,...) or an object."
                    )
                if isinstance(given, dict):
                    given = {group: whole(slots) for group, slots in given.items()}
                try:
                    rules[name] = as_text(normalise(given))
                except (PoolRulesError, TypeError, ValueError, AttributeError) as error:
                    shown = repr(body[name])
                    shown = shown if len(shown) <= 80 else shown[:77] + "..."
                    raise BadRequest(f"{name} has value {shown}. {error}") from None
        answer: dict[str, Any] = {}
        if body.keys() & set(SEAT_FIELDS):
            answer |= await self._resize_seats(body, by=by)
        if rules:
            try:
                now = await self.engine.set_pools(
                    reserve=rules.get("pool_reserve"), cap=rules.get("pool_cap"), by=by
                )
            except PoolRulesError as error:
                # The rules were read above: what the store refuses is their fit to the pool.
                raise Conflict(str(error)) from None
            answer |= {"pool_reserve": as_text(now.reserve), "pool_cap": as_text(now.cap)}
        return answer

    async def _resize_seats(self, body: dict[str, Any], *, by: str) -> dict[str, int]:
        values: dict[str, int | None] = {}
        for name in SEAT_FIELDS:
            value = body.get(name)
            values[name] = None if value is None else seat_count(name, value)
        concurrent, named = await self.engine.resize(
            concurrent_seats=values["concurrent_seats"], named_seats=values["named_seats"], by=by
        )
        return {"concurrent_seats": concurrent, "named_seats": named}

    async def events(
        self,
        *,
        limit: int = DEFAULT_PAGE,
        before: str | None = None,
        person: str | None = None,
        event: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        if before is not None and not _stream_id(before):
            raise BadRequest(f"before has value {before[:40]!r}. It must be an event id.")
        if before is not None and not before.strip("0-"):
            # Nothing is older than the first possible id (which the store refuses to exclude).
            return {"events": [], "next_before": None, "limit": limit, "scanned": 0}
        page: EventPage = await events(
            self.engine,
            limit=limit,
            before=before,
            person=person.strip().lower() if person and person.strip() else None,
            event=event or None,
            reason=reason or None,
        )
        return {
            "events": page.events,
            "next_before": page.next_before,
            "limit": limit,
            "scanned": page.scanned,
        }

    async def history(self, range_: str = "24h") -> dict[str, Any]:
        """The object of ``GET /_halo/api/history?range=24h|7d|30d``."""
        if range_ not in RANGES:
            raise BadRequest(f"range has value {range_!r}. It must be 24h, 7d or 30d.")
        series = await self.engine.history.series(range_)
        usage = await self.engine.usage()
        return {
            "range": series.range,
            "step": series.step,
            "now": series.now,
            "capacity": usage.concurrent_seats,
            "in_use": usage.in_use,
            "queue": usage.queue_length,
            "points": [
                {
                    "at": p.at,
                    "peak": p.peak,
                    "admissions": p.admissions,
                    "denials": p.denials,
                    "queue": p.queue,
                }
                for p in series.points
            ],
            "capacity_changes": [
                {"at": c.at, "concurrent": c.concurrent, "named": c.named} for c in series.changes
            ],
        }


# An audit entry's id, "ms-seq": two 64-bit unsigned integers, so at most 19 digits each
# are always in range.
STREAM_ID = r"[0-9]{1,19}(-[0-9]{1,19})?"


def _stream_id(text: str) -> bool:
    return re.fullmatch(STREAM_ID, text) is not None
