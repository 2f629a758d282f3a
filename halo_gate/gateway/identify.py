"""Identifying the person a request is from: the signed cookie, or the configured source.

With OIDC (the default) the cookie alone names the person. Any other source (``header``,
``jwt``, ``app``) names them on every request (cheap: a header scan, a cached token, a scope
key), while the signed cookie carries the licence between heartbeats exactly as with OIDC. A
cookie whose person is not the request's is ignored. Each person has one session id, derived
from the person with the signing key, so a client that never keeps cookies (an API client behind
the proxy) shares one session with the person's other requests instead of opening a new one per
request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import replace

from starlette.types import Scope

from ..identity import Person, Refused, Source, SourceUnavailable, Unnamed
from ..session import HeartbeatMemory, Session
from .verdict import Gate

logger = logging.getLogger("halo_gate.identity")

KNOWN_KEPT = 100_000

# Who a request is from: the session it holds, a person named by the source who holds none
# here yet, nobody, or the final answer when the identity cannot be believed or checked.
Who = Session | Person | Gate | None


class Identifier:
    def __init__(self, source: Source | None, memory: HeartbeatMemory, key: str) -> None:
        self.source = source
        self._memory = memory
        self._key = key.encode()
        # Per worker: the session last admitted for each person, for clients without cookies.
        self._known: dict[str, Session] = {}

    @property
    def unnamed(self) -> Unnamed:
        """The verdict for a request that names nobody: refused, or handed on as anonymous."""
        return "unidentified" if self.source is None else self.source.unnamed

    def session_id(self, person: str) -> str:
        """The one session id of ``person`` under a source that names them on every request."""
        digest = hmac.new(self._key, b"halo-person\x00" + person.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:16]).rstrip(b"=").decode()

    async def __call__(self, scope: Scope, session: Session | None) -> Who:
        """Who the request is from, given the cookie's ``session``."""
        if self.source is None:
            return session
        try:
            named = await self.source.identify(scope)
        except Refused as refused:
            logger.warning("identity refused: %s", refused)
            return Gate("bad_identity")
        except SourceUnavailable as error:
            logger.warning("identity not checked: %s", error)
            return Gate("store_down")
        if named is None:
            return None
        ended = self._memory.ended
        if session is not None and session.person == named.person:
            if not ended(session.session_id):
                return _with_groups(session, named)
        session_id = self.session_id(named.person)
        known = self._known.get(session_id)
        if known is not None and not ended(session_id):
            return _with_groups(known, named)
        return named

    def remember(self, session: Session) -> None:
        """A session admitted for a named person, for their requests that carry no cookie."""
        if len(self._known) >= KNOWN_KEPT:
            self._known.clear()
        self._known[session.session_id] = session

    def forget(self, session_id: str) -> None:
        self._known.pop(session_id, None)


def _with_groups(session: Session, named: Person) -> Session:
    return session if session.groups == named.groups else replace(session, groups=named.groups)
