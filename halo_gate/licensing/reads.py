"""The console's view of the store: who holds a licence and from which devices, a page at a time
or found by a search, and the waiting line; ending a licence or a place in the line.

Every read costs the store O(page + log n), never a walk over every session: the pages are
ranges of ranks in the holders' sorted sets (``read_scripts/licences.lua``); a search is a
range of the holders' names by their beginning (``holder_names``). A session's person,
address and browser are noted at sign-in (``note``), which is what lets an administrator end
a session by its id without listing them all.

The scripts here read (or, for ``dequeue``, write) keys of the installation's hash tag and
declare every one in KEYS; none takes part in a licence decision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from redis.exceptions import NoScriptError, RedisError

from .keys import Keyspace
from .results import LicenceType, text

# Entries of a holders' sorted set examined per ZSCAN call of find_owner().
SCAN_STEP = 1000
# A session's note outlives the session's maximum age by this much (seconds): a waiter is
# noted at sign-in, before the wait that precedes their admission.
NOTE_MARGIN = 86400
# Sessions noted per person that are kept (the newest); a person's live sessions are fewer.
NOTED_PER_PERSON = 32
# The field of a person's sessions hash keeping their pool slot's charge (see common.lua).
CHARGE = "!"


@dataclass(frozen=True, slots=True)
class HeldSession:
    session_id: str
    user_agent: str  # as the browser sent it at sign-in; "" when not noted
    address: str
    since: float  # epoch seconds
    last_seen: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class Holder:
    person: str
    licence: LicenceType
    group: str | None  # the group whose reservation (or, for a member, shared part) holds the slot
    sessions: list[HeldSession]

    @property
    def since(self) -> float:
        return min((s.since for s in self.sessions), default=0.0)

    @property
    def last_activity(self) -> float:
        return max((s.last_seen for s in self.sessions), default=0.0)


@dataclass(frozen=True, slots=True)
class HolderPage:
    holders: list[Holder]
    total: int
    now: float  # the store's time, epoch seconds


@dataclass(frozen=True, slots=True)
class Waiter:
    person: str
    groups: tuple[str, ...]  # their groups under the pool rules
    since: float
    position: int  # 1: the head
    place_until: float  # when their place ends unless their page asks again
    offer_until: float | None  # when the slot offered to them passes on; None: no offer


@dataclass(frozen=True, slots=True)
class LinePage:
    waiting: list[Waiter]
    length: int
    now: float
    by_group: dict[str, int]  # waiters per group under the pool rules, over the whole line


class Engine(Protocol):
    """What these reads use of the licence engine (which holds them: it is never imported
    here, so the arrow between the modules goes one way)."""

    store: Any
    keys: Keyspace
    clock_offset: float
    store_errors: int
    queue_poll: int
    reads: Reads

    async def announce_ended(self, reason: str, session_ids: Sequence[str]) -> None: ...

    async def end_session(self, person: str, session_id: str = "", *, by: str = "") -> int: ...


def _script(name: str) -> str:
    return (resources.files(__package__) / "read_scripts" / f"{name}.lua").read_text()


class Reads:
    """The console's reads and its two line and licence actions, for one engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        unavailable: type[Exception],
        idle_ms: int,
        max_age_ms: int,
        audit_cap: int,
    ) -> None:
        self._engine = engine
        self._unavailable = unavailable  # the engine's StoreUnavailable
        self._idle_ms = idle_ms
        self._max_age_ms = max_age_ms
        self._audit_cap = audit_cap
        self._sources: dict[str, str] = {}
        self._shas: dict[str, str] = {}

    @property
    def _store(self) -> Any:
        return self._engine.store

    def _key(self, name: str) -> str:
        return self._engine.keys.key(name)

    def failed(self, error: RedisError) -> Exception:
        """``error`` as StoreUnavailable, counted among the engine's store errors."""
        self._engine.store_errors += 1
        return self._unavailable(str(error))

    def offset_ms(self) -> int:
        return round(self._engine.clock_offset * 1000)

    async def script(self, name: str, keys: Sequence[str], *args: str | int) -> Any:
        """Runs ``read_scripts/<name>.lua`` on ``keys``; a store error is StoreUnavailable."""
        if name not in self._sources:
            self._sources[name] = _script(name)
        store = self._store
        try:
            try:
                if name not in self._shas:
                    raise NoScriptError(name)
                return await store.evalsha(self._shas[name], len(keys), *keys, *args)
            except NoScriptError:
                self._shas[name] = text(await store.script_load(self._sources[name]))
                return await store.evalsha(self._shas[name], len(keys), *keys, *args)
        except RedisError as error:
            raise self.failed(error) from error

    async def now(self) -> float:
        """The scripts' clock: the store's time plus the engine's offset (0 outside tests)."""
        try:
            seconds, micros = await self._store.time()
        except RedisError as error:
            raise self.failed(error) from error
        return float(seconds) + float(micros) / 1e6 + self._engine.clock_offset

    async def capacity(self) -> tuple[int, int]:
        """(concurrent slots, named seats) in force: two fields, not the usage script."""
        try:
            values = await self._store.hmget(self._engine.keys.config, ["concurrent", "named"])
        except RedisError as error:
            raise self.failed(error) from error
        return int(values[0] or 0), int(values[1] or 0)

    # Notes taken at sign-in

    async def note(self, person: str, session_id: str, *, user_agent: str, address: str) -> None:
        """Note who signs in with ``session_id``, from where and with which browser. Best
        effort: a session without a note is still listed, its device unknown."""
        keys = self._engine.keys
        life = self._max_age_ms // 1000 + NOTE_MARGIN
        value = json.dumps({"person": person, "address": address, "agent": user_agent[:300]})
        try:
            async with self._store.pipeline(transaction=False) as pipe:
                pipe.set(keys.device(session_id), value, ex=life)
                pipe.zadd(keys.devices(person), {session_id: time.time() * 1000})
                pipe.zremrangebyrank(keys.devices(person), 0, -NOTED_PER_PERSON - 1)
                pipe.expire(keys.devices(person), life)
                await pipe.execute()
        except RedisError:
            pass

    async def owner(self, session_id: str) -> str | None:
        """The person a session was noted for at sign-in, if it was."""
        try:
            raw = await self._store.get(self._engine.keys.device(session_id))
        except RedisError as error:
            raise self.failed(error) from error
        if raw is None:
            return None
        person = json.loads(text(raw)).get("person")
        return person if isinstance(person, str) else None

    async def find_owner(self, session_id: str) -> str | None:
        """The person holding ``session_id`` when it has no note (admitted by a caller that gave
        no sign-in, or before notes were taken): the holders are walked SCAN_STEP at a time,
        each step one round trip, so no call is long though the walk is."""
        keys = self._engine.keys
        for zset in (self._key("active"), self._key("pool")):
            cursor = 0
            while True:
                try:
                    cursor, batch = await self._store.zscan(zset, cursor, count=SCAN_STEP)
                    people = [text(member) for member, _ in batch]
                    async with self._store.pipeline(transaction=False) as pipe:
                        for person in people:
                            pipe.hexists(keys.sessions(person), session_id)
                        found = await pipe.execute() if people else []
                except RedisError as error:
                    raise self.failed(error) from error
                for person, exists in zip(people, found, strict=True):
                    if exists:
                        return person
                if int(cursor) == 0:
                    break
        return None

    # Licence holders

    async def holders(self, *, offset: int, limit: int) -> HolderPage:
        """Named holders first, then the pool's, each most recently active first."""
        reply = await self.script(
            "licences", (self._key("active"), self._key("pool")), self.offset_ms(), offset, limit
        )
        now, named, concurrent = int(reply[0]) / 1000, int(reply[1]), int(reply[2])
        found = [
            (text(reply[i]), text(reply[i + 1]), float(reply[i + 2]))
            for i in range(3, len(reply), 3)
        ]
        return HolderPage(await self._detail(found, now), named + concurrent, now)

    async def search(self, start: str, *, offset: int, limit: int) -> HolderPage:
        """The holders whose name begins with ``start``, in alphabetical order: a range of
        holder_names (kept by the decision scripts), O(log n + page). Holders who expired and
        are not culled yet are in the range but not on the page."""
        now = await self.now()
        names = self._engine.keys.holder_names
        low = b"[" + start.encode()
        high = low + b"\xff"  # above every name that begins with start (UTF-8 has no 0xff)
        try:
            async with self._store.pipeline(transaction=False) as pipe:
                pipe.zlexcount(names, low, high)
                pipe.zrangebylex(names, low, high, offset, limit)
                total, people = await pipe.execute()
            people = [text(person) for person in people]
            async with self._store.pipeline(transaction=False) as pipe:
                for person in people:
                    pipe.zscore(self._key("active"), person)
                    pipe.zscore(self._key("pool"), person)
                scores = await pipe.execute() if people else []
        except RedisError as error:
            raise self.failed(error) from error
        page = []
        for i, person in enumerate(people):
            named, pooled = scores[2 * i], scores[2 * i + 1]
            for licence, score in (("named", named), ("concurrent", pooled)):
                if score is not None and score / 1000 > now:
                    page.append((person, licence, float(score)))
                    break
        return HolderPage(await self._detail(page, now), int(total), now)

    async def holder(self, person: str) -> Holder | None:
        """One person's licence and live sessions, or None when they hold none."""
        now = await self.now()
        try:
            async with self._store.pipeline(transaction=False) as pipe:
                pipe.zscore(self._key("active"), person)
                pipe.zscore(self._key("pool"), person)
                named, pooled = await pipe.execute()
        except RedisError as error:
            raise self.failed(error) from error
        for licence, score in (("named", named), ("concurrent", pooled)):
            if score is not None and score / 1000 > now:
                return (await self._detail([(person, licence, score)], now))[0]
        return None

    async def live_sessions(self, person: str) -> list[str]:
        """The ids of ``person``'s live sessions (for signing out everywhere)."""
        now_ms = await self.now() * 1000
        try:
            fields: dict[Any, Any] = await self._store.hgetall(self._engine.keys.sessions(person))
        except RedisError as error:
            raise self.failed(error) from error
        return [
            text(id_)
            for id_, value in fields.items()
            if text(id_) != CHARGE and int(text(value).split()[0]) > now_ms
        ]

    async def _detail(self, found: list[tuple[str, str, float]], now: float) -> list[Holder]:
        """The holders' live sessions and their notes: one round trip for the sessions and one
        for the notes, each O(the page's sessions)."""
        if not found:
            return []
        keys = self._engine.keys
        try:
            async with self._store.pipeline(transaction=False) as pipe:
                for person, _, _ in found:
                    pipe.hgetall(keys.sessions(person))
                raw_hashes: list[dict[Any, Any]] = await pipe.execute()
            hashes = [{text(k): v for k, v in fields.items()} for fields in raw_hashes]
            live: list[list[tuple[str, int, int]]] = []
            for fields in hashes:
                mine = []
                for id_, value in fields.items():
                    if id_ == CHARGE:
                        continue
                    expiry, created = (int(part) for part in text(value).split())
                    if expiry / 1000 > now:
                        mine.append((id_, expiry, created))
                live.append(sorted(mine, key=lambda s: s[2]))
            ids = [s[0] for mine in live for s in mine]
            raw = await self._store.mget([keys.device(id_) for id_ in ids]) if ids else []
        except RedisError as error:
            raise self.failed(error) from error
        notes = {id_: json.loads(text(value)) for id_, value in zip(ids, raw, strict=True) if value}
        holders = []
        for (person, licence, _), fields, mine in zip(found, hashes, live, strict=True):
            sessions = []
            for id_, expiry, created in mine:
                note = notes.get(id_, {})
                sessions.append(
                    HeldSession(
                        session_id=id_,
                        user_agent=str(note.get("agent", "")),
                        address=str(note.get("address", "")),
                        since=created / 1000,
                        # Each renewal sets the expiry one idle timeout ahead (capped by the
                        # maximum age), so this is the last heartbeat, or earlier when capped.
                        last_seen=max(created, expiry - self._idle_ms) / 1000,
                        expires_at=expiry / 1000,
                    )
                )
            holders.append(Holder(person, licence, _group(fields.get(CHARGE)), sessions))  # type: ignore[arg-type]
        return holders

    # The waiting line

    async def line(self, *, offset: int, limit: int) -> LinePage:
        keys = [self._key(name) for name in ("queue", "waiting", "offers", "waiters")]
        reply = await self.script("queue_page", keys, self.offset_ms(), offset, limit)
        try:
            # The whole line's records, for the count per group: at most HALO_GATE_QUEUE_MAX.
            records: list[Any] = await self._store.hvals(keys[3])
        except RedisError as error:
            raise self.failed(error) from error
        by_group: dict[str, int] = {}
        for record in records:
            for group in set(text(record).split("\n")[1:]):
                by_group[group] = by_group.get(group, 0) + 1
        now, length = int(reply[0]) / 1000, int(reply[1])
        waiting = []
        for n, i in enumerate(range(2, len(reply), 4)):
            record = text(reply[i + 1])
            joined, *groups = record.split("\n") if record else ("0",)
            offer = int(float(reply[i + 3]))
            waiting.append(
                Waiter(
                    person=text(reply[i]),
                    groups=tuple(groups),
                    since=int(joined or 0) / 1000,
                    position=offset + n + 1,
                    place_until=int(float(reply[i + 2])) / 1000,
                    offer_until=offer / 1000 if offer else None,
                )
            )
        return LinePage(waiting, length, now, by_group)

    async def dequeue(self, person: str, *, by: str) -> bool:
        """Take ``person`` out of the line and end the sessions they waited with (announced to
        every worker, so their next poll asks them to sign in again); False when not waiting."""
        keys = self._engine.keys
        names = ("queue", "waiting", "offers", "waiters", "config", "audit", "pool", "ended")
        reply = await self.script(
            "dequeue",
            [
                *(self._key(name) for name in names),
                keys.sessions(person),
                keys.devices(person),
                keys.audit_people,
            ],
            self.offset_ms(),
            person,
            by,
            self._audit_cap,
            max(self._idle_ms, self._max_age_ms),
        )
        await self._engine.announce_ended("admin", [text(id_) for id_ in reply[1:]])
        return bool(int(reply[0]))


def _group(charge: Any) -> str | None:
    """The group a slot is held for, from its charge record: the reservation's group, else the
    first of the holder's groups (charged to the shared part), else None."""
    if charge is None:
        return None
    reserved, *groups = text(charge).split("\n")
    return reserved or next((g for g in groups if g), None)
