"""Deciding the licence: between heartbeats from the cookie and this worker's memory alone,
otherwise by the engine, at most once per heartbeat interval per session.

Every answer is a ``Gate`` for ``answer`` to turn into a pass or a page. Every store call goes
through the core's ``StoreGuard``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from starlette.types import Scope

from ..identity import Person
from ..licensing import Decision, StoreUnavailable
from ..session import Seen, Session
from .core import Core
from .verdict import ENDED, Gate

logger = logging.getLogger("halo_gate")

# A refused heartbeat is remembered this long (at most one interval), so a client hammering
# with a refused cookie costs one store call per hold, and a freed slot is found soon.
REFUSAL_HOLD = 5.0
WAITING = ("pool_full", "group_cap", "queue_full")
Client = tuple[str, str]  # a sign-in's User-Agent and address, noted for the console


def client_of(scope: Scope) -> Client:
    """The User-Agent and peer address of a request, as the console shows a session's."""
    agent = next((v for k, v in scope.get("headers", ()) if k == b"user-agent"), b"")
    peer = scope.get("client")
    return agent.decode("latin-1"), peer[0] if peer else ""


class Decider:
    """Asks the licence store about a session, at most once per heartbeat interval."""

    def __init__(self, core: Core) -> None:
        settings = core.settings
        self._engine = core.engine
        self._configuration = core.configuration
        self._guard = core.guard
        self._memory = core.memory
        self._codec = core.codec
        self._roles = core.roles
        self.clock = core.clock
        self.interval = settings.heartbeat_interval
        self._allow_unverified = settings.on_store_error == "allow"
        # How long a refusal is answered from memory: a waiter's poll must reach the store.
        self.refusal_hold = min(REFUSAL_HOLD, settings.heartbeat_interval)
        if settings.queue:
            self.refusal_hold = min(self.refusal_hold, settings.queue_poll)
        # Requests let through unverified while the store was down (ON_STORE_ERROR=allow).
        self.unverified_requests = 0

    def between_heartbeats(self, session: Session, *, passive: bool) -> bool:
        """True when the cookie alone lets the request through: nothing refused it lately and
        no heartbeat (or, on a passive path, no liveness check) is due."""
        seen = self._memory.get(session.session_id)
        last: float
        if seen is None:
            last = session.heartbeat
        elif seen.refusal is not None:
            return False
        elif passive:
            last = max(session.heartbeat, seen.at, seen.checked)
        else:
            last = max(session.heartbeat, seen.at)
        return self.clock() - last < self.interval

    async def decide(self, session: Session | None, *, passive: bool) -> Gate:
        """The decision when the cookie alone does not let the request through."""
        if session is None:
            return Gate("login")
        if self.between_heartbeats(session, passive=passive):
            return Gate("pass", session)
        memory = self._memory
        seen = memory.get(session.session_id)
        now = self.clock()
        if seen is not None and seen.refusal is not None:
            if seen.refusal.outcome == "ended":
                return Gate("login", cookie="", decision=seen.refusal)
            # Passive paths renew nothing, so they repeat the last refusal. A cookie renewed
            # since (a waiter let in by another worker) is not held to it.
            fresh = now - seen.at < self.refusal_hold
            if session.heartbeat < int(seen.at) and (passive or fresh):
                return self.refused(seen.refusal, seen.at, now, session)
        # A waiter's cookie (heartbeat 0) holds no slot to check: every request of theirs asks.
        if passive and session.heartbeat:
            return await self._check_live(session, seen, now)
        # Marked before the round trip, so this session's concurrent requests do not repeat it;
        # a waiter's (whose cookie holds no slot) stay refused meanwhile.
        if session.heartbeat:
            memory.put(session.session_id, Seen(now))
        elif seen is not None and seen.refusal is not None:
            memory.put(session.session_id, Seen(now, seen.refusal))

        async def heartbeat() -> Decision:
            await self._configuration.ensure()
            return await self._engine.heartbeat(
                session.person,
                session.session_id,
                named_group=self._roles.in_named_group(session.groups),
                groups=session.groups,
            )

        try:
            decision = await self._guard.call(heartbeat)
        except StoreUnavailable as error:
            memory.put(session.session_id, seen)
            return self.store_down(session, error)
        if decision.admitted:
            renewed = session.renewed(now, decision.licence)
            if not session.heartbeat:
                memory.put(session.session_id, Seen(now))  # a waiter let in
            return Gate("pass", renewed, cookie=self._codec.encode(renewed))
        memory.put(session.session_id, Seen(now, decision))
        if decision.outcome == "ended":
            return Gate("login", cookie="")
        return self.refused(decision, now, now, session)

    async def alive(self, session: Session) -> Gate:
        """Whether the session was ended, and nothing else: the gateway's own routes identify
        the person and never license them, so a waiter or a refused person passes here. The
        store is asked at most once per heartbeat interval."""
        seen = self._memory.get(session.session_id)
        if seen is not None and seen.refusal is not None and seen.refusal.outcome == "ended":
            return Gate("login", cookie="", decision=seen.refusal)
        now = self.clock()
        if seen is None or seen.refusal is None:
            if self.between_heartbeats(session, passive=True):
                return Gate("pass", session)
        elif now - seen.checked < self.interval:
            return Gate("pass", session)  # refused (a waiter, say), but checked lately
        return await self._check_live(session, seen, now)

    async def _check_live(self, session: Session, seen: Seen | None, now: float) -> Gate:
        # A session that is merely lost (expired, or the store restarted) is let through
        # without renewal: the next ordinary request re-admits it or refuses it.
        memory = self._memory
        memory.put(
            session.session_id,
            Seen(seen.at if seen else 0.0, seen.refusal if seen else None, checked=now),
        )
        try:
            liveness = await self._guard.call(
                lambda: self._engine.check(session.person, session.session_id)
            )
        except StoreUnavailable as error:
            memory.put(session.session_id, seen)
            return self.store_down(session, error)
        if liveness == "ended":
            memory.put(session.session_id, Seen(now, ENDED))
            return Gate("login", cookie="")
        if liveness == "lost" and seen is not None and seen.refusal is not None:
            memory.put(session.session_id, seen)  # e.g. harvested: the next request asks
        return Gate("pass", session)

    async def admit(
        self, person: str, session_id: str, groups: tuple[str, ...], client: Client | None = None
    ) -> Decision:
        """The engine's admission of a new session; raises ``StoreUnavailable``. ``client``
        (the browser's User-Agent and address) is noted with the session for the console."""

        async def admission() -> Decision:
            await self._configuration.ensure()
            return await self._engine.admit(
                person,
                session_id,
                named_group=self._roles.in_named_group(groups),
                groups=groups,
                user_agent=client[0] if client else None,
                address=client[1] if client else "",
            )

        return await self._guard.call(admission)

    async def admit_named(
        self, named: Person, session_id: str, client: Client | None = None
    ) -> Gate:
        """The decision for a person an identity source names, who holds no session here yet."""
        now = self.clock()
        seen = self._memory.get(session_id)
        session = Session(session_id, named.person, "concurrent", int(now), named.groups)
        if seen is not None and seen.refusal is not None and seen.refusal.outcome != "ended":
            # A refused person is asked about again at most once per hold.
            if now - seen.at < self.refusal_hold:
                return self.refused(seen.refusal, seen.at, now, session)
        try:
            decision = await self.admit(named.person, session_id, named.groups, client)
        except StoreUnavailable as error:
            return self.store_down(session, error)
        if not decision.admitted or decision.licence is None:
            self._memory.put(session_id, Seen(now, decision))
            return self.refused(decision, now, now, session)
        session = replace(session, licence=decision.licence)
        self._memory.put(session_id, Seen(now))
        return Gate("pass", session, cookie=self._codec.encode(session))

    def refused(self, decision: Decision, at: float, now: float, session: Session) -> Gate:
        """The refusal ``decision`` (made at ``at``) as the gateway answers it at ``now``."""
        if decision.outcome in WAITING:
            # The remembered answer's wait shrinks as time passes.
            retry_after = max(1, decision.retry_after - int(now - at))
            refused = replace(decision, retry_after=retry_after)
            return Gate("pool_full", session, decision=refused)
        return Gate("no_licence", decision=decision)

    def store_down(self, session: Session, error: BaseException) -> Gate:
        """The answer when the store cannot decide: HALO_GATE_ON_STORE_ERROR's."""
        if self._allow_unverified:
            self.unverified_requests += 1
            logger.warning(
                "licence store unavailable (%s); letting session %s… through unverified",
                error,
                session.session_id[:6],
            )
            return Gate("pass", session, verified=False)
        logger.warning("licence store unavailable (%s); request denied", error)
        return Gate("store_down")
