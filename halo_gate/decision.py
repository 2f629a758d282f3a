"""The licence decision for a request the cookie alone does not let through: a heartbeat is
due, a liveness check is due on a passive path, a waiter polls, or a refusal is remembered.

``HaloGate`` answers the requests between heartbeats itself, without the store; everything else
comes here, and goes back to the gateway as a ``Gate`` to turn into a pass or a page.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from .licensing import Decision, StoreUnavailable
from .session import Seen, Session
from .verdict import ENDED, STORE_ERRORS, Gate

if TYPE_CHECKING:
    from .middleware import HaloGate

logger = logging.getLogger("halo_gate")

# A refused heartbeat is remembered this long (at most one interval), so a client hammering
# with a refused cookie costs one store call per hold, and a freed slot is found soon.
REFUSAL_HOLD = 5.0


class Decider:
    """Asks the licence store about a session, at most once per heartbeat interval."""

    def __init__(self, gate: HaloGate) -> None:
        self.gate = gate
        settings = gate.settings
        # How long a refusal is answered from memory: a waiter's poll must reach the store.
        self.refusal_hold = min(REFUSAL_HOLD, settings.heartbeat_interval)
        if settings.queue:
            self.refusal_hold = min(self.refusal_hold, settings.queue_poll)
        # Requests let through unverified while the store was down (ON_STORE_ERROR=allow).
        self.unverified_requests = 0

    async def decide(self, session: Session | None, *, passive: bool) -> Gate:
        """The decision when the cookie alone does not let the request through."""
        if session is None:
            return Gate("login")
        gate = self.gate
        seen = gate.memory.get(session.session_id)
        now = gate.clock()
        if seen is not None and seen.refusal is not None:
            if seen.refusal.outcome == "ended":
                return Gate("login", cookie="", decision=seen.refusal)
            # Passive paths renew nothing, so they repeat the last refusal. A cookie renewed
            # since (a waiter let in by another worker) is not held to it.
            fresh = now - seen.at < self.refusal_hold
            if session.heartbeat < int(seen.at) and (passive or fresh):
                return self.refused(seen.refusal, seen.at, now, session)
        if not gate.breaker.allow():
            return self.store_down(session, StoreUnavailable("circuit open"))
        # A waiter's cookie (heartbeat 0) holds no slot to check: every request of theirs asks.
        if passive and session.heartbeat:
            return await self._check_live(session, seen, now)
        # Marked before the round trip, so this session's concurrent requests do not repeat it;
        # a waiter's (whose cookie holds no slot) stay refused meanwhile.
        if session.heartbeat:
            gate.memory.put(session.session_id, Seen(now))
        elif seen is not None and seen.refusal is not None:
            gate.memory.put(session.session_id, Seen(now, seen.refusal))
        try:
            async with asyncio.timeout(gate.store_timeout):
                await gate.ensure_configured()
                decision = await gate.engine.heartbeat(
                    session.person,
                    session.session_id,
                    named_group=gate.in_named_group(session.groups),
                    groups=session.groups,
                )
        except STORE_ERRORS as error:
            gate.breaker.failed()
            gate.memory.put(session.session_id, seen)
            return self.store_down(session, error)
        gate.breaker.succeeded()
        if decision.admitted:
            renewed = session.renewed(now, decision.licence)
            if not session.heartbeat:
                gate.memory.put(session.session_id, Seen(now))  # a waiter let in
            return Gate("pass", renewed, cookie=gate.codec.encode(renewed))
        gate.memory.put(session.session_id, Seen(now, decision))
        if decision.outcome == "ended":
            return Gate("login", cookie="")
        return self.refused(decision, now, now, session)

    async def _check_live(self, session: Session, seen: Seen | None, now: float) -> Gate:
        # A session that is merely lost (expired, or the store restarted) is let through
        # without renewal: the next ordinary request re-admits it or refuses it.
        gate = self.gate
        gate.memory.put(session.session_id, Seen(seen.at if seen else 0.0, checked=now))
        try:
            async with asyncio.timeout(gate.store_timeout):
                liveness = await gate.engine.check(session.person, session.session_id)
        except STORE_ERRORS as error:
            gate.breaker.failed()
            gate.memory.put(session.session_id, seen)
            return self.store_down(session, error)
        gate.breaker.succeeded()
        if liveness == "ended":
            gate.memory.put(session.session_id, Seen(now, ENDED))
            return Gate("login", cookie="")
        if liveness == "lost" and seen is not None and seen.refusal is not None:
            gate.memory.put(session.session_id, seen)  # e.g. harvested: the next request asks
        return Gate("pass", session)

    def refused(self, decision: Decision, at: float, now: float, session: Session) -> Gate:
        """The refusal ``decision`` (made at ``at``) as the gateway answers it at ``now``."""
        if decision.outcome in ("pool_full", "group_cap", "queue_full"):
            # The remembered answer's wait shrinks as time passes.
            retry_after = max(1, decision.retry_after - int(now - at))
            refused = replace(decision, retry_after=retry_after)
            return Gate("pool_full", session, decision=refused)
        return Gate("no_licence", decision=decision)

    def store_down(self, session: Session, error: BaseException) -> Gate:
        """The answer when the store cannot decide: HALO_GATE_ON_STORE_ERROR's."""
        if self.gate.settings.on_store_error == "allow":
            self.unverified_requests += 1
            logger.warning(
                "licence store unavailable (%s); letting session %s… through unverified",
                type(error).__name__,
                session.session_id[:6],
            )
            return Gate("pass", session, verified=False)
        logger.warning("licence store unavailable (%s); request denied", type(error).__name__)
        return Gate("store_down")
