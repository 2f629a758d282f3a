"""The licence engine: a typed async API over the Lua in ``scripts/`` (see ``library.py``).

Each decision is one function of the library, one round trip, atomic on the server and timed by
Redis's own clock. The engine knows nothing of HTTP; the gateway, the console and the CLI all
call it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.exceptions import RedisError, ResponseError

from . import pools
from .calls import FULL, Calls, Hints, decide_elsewhere, to_harvest
from .history import History
from .keys import Keyspace
from .listing import live_sessions
from .pools import PoolRules, PoolRulesError, RulesInput
from .reads import Reads
from .results import (
    AssignOutcome,
    Decision,
    LicenceType,
    Liveness,
    LiveSession,
    Outcome,
    Usage,
)
from .results import text as _text
from .store import Store

# The typed results live in results.py; their names stay importable from here.
__all__ = [
    "AssignOutcome",
    "Decision",
    "LicenceEngine",
    "LicenceType",
    "LiveSession",
    "Liveness",
    "Outcome",
    "StoreUnavailable",
    "Usage",
]

# Attempts at a decision when the store first says its settings or pool rules moved on.
ATTEMPTS = 3

DEFAULT_IDLE_TIMEOUT = 1800
DEFAULT_SESSION_MAX_AGE = 43200
DEFAULT_NAMED_COOLDOWN = 86400
DEFAULT_AUDIT_MAXLEN = 100_000
DEFAULT_HISTORY_DAYS = 30
# The waiting line (see scripts/line.lua): its most waiters, how long a waiter who stops polling
# keeps their place, and how long a slot offered to the head waits for them (seconds).
DEFAULT_QUEUE_MAX = 1000
DEFAULT_QUEUE_GRACE = 120
DEFAULT_QUEUE_OFFER = 60
# The most sessions one person may hold at once: a new one ends their oldest past it.
DEFAULT_MAX_SESSIONS_PER_PERSON = 20
# A waiter's page asks again this often at most (seconds).
MAX_QUEUE_POLL = 10


def queue_poll(grace: int, offer: int) -> int:
    """How often a waiter's page asks again: often enough to keep their place (the grace) and to
    claim an offer in time, several times over."""
    return max(1, min(MAX_QUEUE_POLL, grace // 4, offer // 4))


class StoreUnavailable(Exception):
    """The store did not answer; the decision was not made."""


class _Unconfigured(Exception):
    """The store answered but holds no settings for the installation (it restarted empty)."""


class _StaleRules(Exception):
    """The pool rules changed since this engine learnt which groups they name."""


class LicenceEngine:
    """Licence decisions for one installation, shared by every worker that uses the same store."""

    def __init__(
        self,
        store: Store,
        *,
        instance: str = "default",
        idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
        session_max_age: int = DEFAULT_SESSION_MAX_AGE,
        named_cooldown: int = DEFAULT_NAMED_COOLDOWN,
        audit_maxlen: int = DEFAULT_AUDIT_MAXLEN,
        history_days: int = DEFAULT_HISTORY_DAYS,
        queue: bool = True,
        queue_max: int = DEFAULT_QUEUE_MAX,
        queue_grace: int = DEFAULT_QUEUE_GRACE,
        queue_offer: int = DEFAULT_QUEUE_OFFER,
        max_sessions_per_person: int = DEFAULT_MAX_SESSIONS_PER_PERSON,
        harvest_idle: int = 0,
    ) -> None:
        if harvest_idle < 0:
            raise ValueError(f"harvest_idle has value {harvest_idle!r}. Not a number of seconds.")
        self.store = store
        self.keys = Keyspace(instance)
        # Added to Redis's clock inside every script. Tests move time with it; it stays 0 in use.
        self.clock_offset = 0.0
        self._settings = (
            idle_timeout * 1000,
            session_max_age * 1000,
            audit_maxlen,
            (history_days + 1) * 86400,
            named_cooldown * 1000,
            queue_max if queue else 0,
            queue_grace * 1000,
            queue_offer * 1000,
            max_sessions_per_person,
            # Seconds without a renewal after which a pool slot may be harvested (0: never;
            # see scripts/harvest.lua).
            harvest_idle * 1000,
        )
        self.queue_poll = queue_poll(queue_grace, queue_offer)
        # The last settings configure() applied, applied again if the store loses them; None
        # until configure() runs, so an engine that never had them cannot write 0 slots.
        self._deployment: tuple[int, int, tuple[str, ...], str, str] | None = None
        # The pool rules as last learnt: an admission passes the person's groups among those
        # they name, and the store refuses a call made with rules it no longer has.
        self.pool_rules = PoolRules()
        self._calls = Calls(store, self.keys, self._settings)
        self._hints = Hints()
        # Per process, for the metrics: calls the store failed, and a hook timing each call.
        self.store_errors = 0
        self.timer: Callable[[float], None] | None = None
        # The console's reads (licence holders, the line) and the notes taken at sign-in.
        self.reads = Reads(
            self,
            unavailable=StoreUnavailable,
            idle_ms=idle_timeout * 1000,
            max_age_ms=session_max_age * 1000,
            audit_cap=audit_maxlen,
        )
        self.history = History(self, retention=(history_days + 1) * 86400)

    async def _run(
        self, name: str, person: str | None, *args: str | int, people: Sequence[str] = ()
    ) -> Any:
        timer = self.timer
        started = time.perf_counter() if timer is not None else 0.0
        offset = round(self.clock_offset * 1000)
        try:
            reply, expired = await self._calls.call(name, person, args, people, offset)
        except ResponseError as error:
            if str(error).startswith("UNCONFIGURED"):
                raise _Unconfigured(str(error)) from error
            if str(error).startswith("POOLS"):
                raise _StaleRules(str(error)) from error
            self.store_errors += 1
            raise StoreUnavailable(str(error)) from error
        except RedisError as error:
            self.store_errors += 1
            raise StoreUnavailable(str(error)) from error
        finally:
            if timer is not None:
                timer(time.perf_counter() - started)
        if expired:
            await self._cull([_text(someone) for someone in expired])
        return reply

    async def _cull(self, people: list[str]) -> None:
        """Culls the expired holders a call has named (see cull.lua). The call's decision is
        made whatever happens here; a holder left is named again by a later call."""
        try:
            await self._run("cull", None, *people, people=people)
        except StoreUnavailable:
            pass

    def _learn_rules(self, generation: Any, reserve: Any, cap: Any) -> PoolRules:
        self.pool_rules = PoolRules.from_store(
            _text(generation or "0"), _text(reserve or ""), _text(cap or "")
        )
        return self.pool_rules

    async def configure(
        self,
        *,
        concurrent_seats: int,
        named_seats: int,
        named_users: Sequence[str] = (),
        pool_reserve: RulesInput = (),
        pool_cap: RulesInput = (),
    ) -> list[str]:
        """Apply the deployment's capacities, pool rules and listed named people; returns the
        listed people left seatless.

        A capacity (or the reservations, or the caps) changes only when the deployment's value
        differs from the last one applied, so an administrator's change is not undone by
        another worker starting.
        """
        reserve = pools.as_text(pools.normalise(pool_reserve))
        cap = pools.as_text(pools.normalise(pool_cap))
        self._deployment = (concurrent_seats, named_seats, tuple(named_users), reserve, cap)
        args: list[str | int] = [concurrent_seats, named_seats, reserve, cap, *named_users]
        reply = await self._run("configure", None, *args, people=named_users)
        self._learn_rules(*reply[2:5])
        await self.history.capacity_changed(int(reply[0]), int(reply[1]))
        return [_text(person) for person in reply[5:]]

    async def _admission(
        self, name: str, person: str, session_id: str, group: bool, groups: Iterable[str]
    ) -> Decision:
        flag = int(group)
        for _ in range(ATTEMPTS):
            rules = self.pool_rules
            try:
                reply = None
                # Only the person's groups the rules name reach the store (no rules: none).
                mine = rules.groups.intersection(groups) if rules.groups else ()
                args = (person, person, session_id, flag, rules.generation, *mine)
                if name == "admit" and not self._hints.refusing:
                    reply = await self._run("admit", *args)
                if reply is None or decide_elsewhere(reply):
                    reply = await self._run(FULL[name], *args)
                idle = to_harvest(reply)
                if idle is not None:
                    reply = await self._run(FULL[name], *args, people=idle)
                decision = Decision.from_reply(reply)
                if decision.position:
                    decision = await self.history.waiting(decision)
                self._hints.decided(session_id, decision.admitted)
                if decision.ended_sessions:
                    await self.announce_ended("session_cap", decision.ended_sessions)
                if decision.harvested_sessions:
                    await self.announce_ended("harvested", decision.harvested_sessions)
                return decision
            except _Unconfigured:
                # The store answered but has lost the installation's settings (it restarted
                # empty): deciding now would refuse everyone, so apply them again and decide
                # afresh.
                if self._deployment is None:
                    raise StoreUnavailable(
                        f"installation {self.keys.instance!r} has no settings in the store and "
                        "this engine was never configured, so it has none to restore"
                    ) from None
                concurrent, named, listed, reserve, cap = self._deployment
                await self.configure(
                    concurrent_seats=concurrent,
                    named_seats=named,
                    named_users=listed,
                    pool_reserve=reserve,
                    pool_cap=cap,
                )
            except _StaleRules:
                await self.pools()
        raise StoreUnavailable(f"the store's settings kept changing over {ATTEMPTS} attempts")

    async def pools(self) -> PoolRules:
        """The pool rules in force now (reservations and caps), read from the store."""
        try:
            values = await self.store.hmget(self.keys.config, ["pools_gen", "reserve", "cap"])
        except RedisError as error:
            raise StoreUnavailable(str(error)) from error
        return self._learn_rules(*values)

    async def admit(
        self,
        person: str,
        session_id: str,
        *,
        named_group: bool = False,
        groups: Iterable[str] = (),
        user_agent: str | None = None,
        address: str = "",
    ) -> Decision:
        """Admit ``person`` (a member of ``groups``) into a new session, or refuse with the
        reason. With ``user_agent`` (a sign-in's), an admitted or waiting session is noted
        with it and ``address`` for the console."""
        decision = await self._admission("admit", person, session_id, named_group, groups)
        if user_agent is not None and (decision.admitted or decision.position):
            await self.reads.note(person, session_id, user_agent=user_agent, address=address)
        return decision

    async def heartbeat(
        self,
        person: str,
        session_id: str,
        *,
        named_group: bool = False,
        groups: Iterable[str] = (),
    ) -> Decision:
        """Renew a session and its slot; re-admit it if it was lost; report it if it was ended."""
        if self._hints.renewable(session_id):
            # Nearly every heartbeat renews a live session, which renew.lua decides at once (five
            # keys); whatever else it meets, it leaves to the full call.
            try:
                reply = await self._run(
                    "renew",
                    person,
                    person,
                    session_id,
                    int(named_group),
                    self.pool_rules.generation,
                )
            except (_Unconfigured, _StaleRules):
                reply = None  # the full call restores the settings or learns the rules
            if reply is not None and not decide_elsewhere(reply):
                return Decision.from_reply(reply)  # renewed: ends nothing
        return await self._admission("heartbeat", person, session_id, named_group, groups)

    async def check(self, person: str, session_id: str) -> Liveness:
        """Whether a session is live, ended, or lost (expired, or unknown to the store); renews
        nothing."""
        return _text(await self._run("check", person, person, session_id))  # type: ignore[return-value]

    async def claim_once(self, token: str, *, ttl: int) -> bool:
        """True for the first claim of ``token`` in ``ttl`` seconds, across every worker: a
        sign-in's state is spent here, so a replayed callback fails whichever worker it reaches."""
        try:
            claimed = await self.store.set(self.keys.key("spent:" + token), 1, nx=True, ex=ttl)
        except RedisError as error:
            raise StoreUnavailable(str(error)) from error
        return bool(claimed)

    async def release(self, person: str, session_id: str, *, abandoned: bool = False) -> bool:
        """End a session at logout; True if it was live. ``abandoned``: the gateway gave up
        waiting for its admission, which is refused should it reach the store later."""
        live = bool(await self._run("release", person, person, session_id, int(abandoned)))
        if live:
            await self.announce_ended("logout", [session_id])
        return live

    async def end_session(self, person: str, session_id: str = "", *, by: str = "") -> int:
        """End one session of ``person`` (all of them when no id is given); returns how many."""
        ended = [
            _text(id_) for id_ in await self._run("end_session", person, person, session_id, by)
        ]
        await self.announce_ended("admin", ended)
        return len(ended)

    async def announce_ended(self, reason: str, session_ids: Sequence[str]) -> None:
        """Tell every worker at once (see ``halo_gate.admin.ended``) that sessions have ended.

        Best effort: the decision is already made and a worker that misses the message still
        learns of it at the session's next heartbeat.
        """
        if not session_ids:
            return
        message = " ".join([reason, *session_ids])
        try:
            if isinstance(self.store, RedisCluster):
                await self.store.spublish(self.keys.ended_channel, message)
            else:
                await self.store.publish(self.keys.ended_channel, message)
        except RedisError:
            pass

    async def assign(self, person: str, *, by: str = "") -> AssignOutcome:
        """Give ``person`` a named seat if one is free."""
        return _text(await self._run("assign", person, person, by))  # type: ignore[return-value]

    async def unassign(self, person: str, *, by: str = "") -> bool:
        """Take back ``person``'s named seat; it is quarantined for the cooldown."""
        held, *ended = await self._run("unassign", person, person, by)
        await self.announce_ended("unassigned", [_text(id_) for id_ in ended])
        return bool(held)

    async def resize(
        self, *, concurrent_seats: int | None = None, named_seats: int | None = None, by: str = ""
    ) -> tuple[int, int]:
        """Change the slot and seat counts; returns (concurrent, named) as they now are."""
        keep = ""
        reply = await self._run(
            "resize",
            None,
            keep if concurrent_seats is None else concurrent_seats,
            keep if named_seats is None else named_seats,
            by,
        )
        await self.history.capacity_changed(int(reply[0]), int(reply[1]))
        return int(reply[0]), int(reply[1])

    async def set_pools(
        self,
        *,
        reserve: RulesInput | None = None,
        cap: RulesInput | None = None,
        by: str = "",
    ) -> PoolRules:
        """Change the reservations and/or the caps live (None keeps them); returns the rules
        now in force. Raises :class:`PoolRulesError` for rules that are malformed, that reserve
        more than a group's cap or more slots than the pool has; nobody's session ends."""
        keep = "-"
        reserve_text = keep if reserve is None else pools.as_text(pools.normalise(reserve))
        cap_text = keep if cap is None else pools.as_text(pools.normalise(cap))
        verdict, *rules = await self._run("pools", None, reserve_text, cap_text, by)
        self._learn_rules(*rules)
        if _text(verdict) != "ok":
            raise PoolRulesError(_text(verdict))
        return self.pool_rules

    async def usage(self) -> Usage:
        """Live usage numbers (expired entries never counted)."""
        return Usage.from_reply(await self._run("usage", None))

    async def sessions(self) -> tuple[float, list[LiveSession]]:
        """The store's time (epoch seconds) and every live session, named people first (see
        ``listing.py``)."""
        try:
            offset = round(self.clock_offset * 1000)
            return await live_sessions(self.store, self.keys, offset, self._settings[0])
        except RedisError as error:
            self.store_errors += 1
            raise StoreUnavailable(str(error)) from error

    async def counters(self) -> dict[str, int]:
        """The installation's counters since it began: ``admitted:<licence>``,
        ``denied:<reason>`` and ``released:<cause>``."""
        try:
            raw: dict[Any, Any] = await self.store.hgetall(self.keys.key("counters"))
        except RedisError as error:
            self.store_errors += 1
            raise StoreUnavailable(str(error)) from error
        return {_text(name): int(value) for name, value in raw.items()}

    async def ping(self) -> bool:
        try:
            return bool(await self.store.ping())
        except RedisError as error:
            raise StoreUnavailable(str(error)) from error
