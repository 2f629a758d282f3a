"""The gateway's side of a source that names the person on each request (not OIDC).

The request's identity is checked on every request (cheap: a header scan, a cached token, a
scope key), while the signed cookie carries the licence between heartbeats exactly as with
OIDC. A cookie whose person is not the request's is dropped and the request's person admitted.
Each person has one session id, derived from the person with the signing key, so a client that
never keeps cookies (an API client behind the proxy) shares one session with the person's other
requests instead of opening a new one per request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from .. import pages
from ..paths import local_path
from ..session import Seen, Session
from ..verdict import ENDED, STORE_ERRORS, Gate
from . import Person, Refused, Source, SourceUnavailable

if TYPE_CHECKING:
    from ..middleware import HaloGate

logger = logging.getLogger("halo_gate.identity")

KNOWN_KEPT = 100_000


class RequestIdentity:
    """Turns the person a request names into the session the gateway decides on."""

    def __init__(self, gate: HaloGate, source: Source) -> None:
        self.gate = gate
        self.source = source
        self._key = gate.settings.signing_keys[0].encode()
        # Per worker: the session last admitted for each person, for clients without cookies.
        self._known: dict[str, Session] = {}
        prefix = gate.settings.path_prefix
        self._login, self._logout = prefix + "/login", prefix + "/logout"
        self._callback = prefix + "/callback"

    def session_id(self, person: str) -> str:
        digest = hmac.new(self._key, b"halo-person\x00" + person.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:16]).rstrip(b"=").decode()

    async def __call__(
        self, scope: Scope, session: Session | None, *, public: bool
    ) -> Session | Gate | None:
        """The session to decide on (None: nobody), or the final answer."""
        try:
            named = await self.source.identify(scope)
        except Refused as refused:
            logger.warning("identity refused: %s", refused)
            return Gate("bad_identity")
        except SourceUnavailable as error:
            logger.warning("identity not checked: %s", error)
            return Gate("store_down")
        if named is None:
            return None if public else Gate(self.source.unnamed)
        if session is not None and session.person == named.person:
            if not self.gate.memory.ended(session.session_id):
                return _with_groups(session, named)
        session_id = self.session_id(named.person)
        known = self._known.get(session_id)
        if known is not None and not self.gate.memory.ended(session_id):
            return _with_groups(known, named)
        if public:
            return None
        return await self._admit(named, session_id)

    async def _admit(self, named: Person, session_id: str) -> Gate:
        gate = self.gate
        now = gate.clock()
        seen = gate.memory.get(session_id)
        session = Session(session_id, named.person, "concurrent", int(now), named.groups)
        if seen is not None and seen.refusal is not None and seen.refusal.outcome != "ended":
            # A refused person is asked about again at most as often as the decider asks.
            if now - seen.at < gate.decider.refusal_hold:
                return gate.decider.refused(seen.refusal, seen.at, now, session)
        try:
            async with asyncio.timeout(gate.store_timeout):
                await gate.ensure_configured()
                decision = await gate.engine.admit(
                    named.person,
                    session_id,
                    named_group=gate.in_named_group(named.groups),
                    groups=named.groups,
                )
        except STORE_ERRORS as error:
            return gate.decider.store_down(session, error)
        if not decision.admitted or decision.licence is None:
            gate.memory.put(session_id, Seen(now, decision))
            return gate.decider.refused(decision, now, now, session)
        session = replace(session, licence=decision.licence)
        gate.memory.put(session_id, Seen(now))
        if len(self._known) >= KNOWN_KEPT:
            self._known.clear()
        self._known[session_id] = session
        return Gate("pass", session, cookie=gate.codec.encode(session))

    async def own_route(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answers the gateway's own routes that differ when the login is not ours; False for
        the others, which the usual routes answer."""
        path = scope["path"]
        named: Person | None = None
        response: Response | None = None
        try:
            named = await self.source.identify(scope)
        except Refused as refused:
            logger.warning("identity refused: %s", refused)
            response = refusal(HTTPConnection(scope), Gate("bad_identity"))
        except SourceUnavailable:
            pass  # sign-out works from the cookie; nothing else here needs the person
        if response is None:
            if path != self._logout or named is not None:
                # Signing out with no one named (the app's own sign-out came first) still
                # releases the cookie's session; anything else counts it only for its person.
                self._drop_foreign_cookie(scope, named)
            if path == self._logout:
                response = await self._sign_out(HTTPConnection(scope), named)
            elif path == self._login:
                # The login is the proxy's or the application's: back to where the person was.
                query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                response = RedirectResponse(local_path(query.get("next")), 302, pages.NO_STORE)
            elif path == self._callback:
                response = pages.error(False, 404, "not_found", "Not found", "No such page.", [])
            else:
                return False
        await response(scope, receive, send)
        return True

    def _drop_foreign_cookie(self, scope: Scope, named: Person | None) -> None:
        """Own routes read the cookie; here it counts only if its person is the request's."""
        session = self.gate.codec.decode(self.gate.read_cookie(scope))
        if session is None or (named is not None and session.person == named.person):
            return
        name = self.gate.settings.cookie_name

        def without_ours(header: bytes) -> bytes:
            chunks = header.decode("latin-1").split(";")
            kept = [chunk for chunk in chunks if chunk.partition("=")[0].strip() != name]
            return ";".join(kept).encode("latin-1")

        scope["headers"] = [
            (key, without_ours(value) if key == b"cookie" else value)
            for key, value in scope["headers"]
        ]

    async def _sign_out(self, conn: HTTPConnection, named: Person | None) -> Response:
        gate = self.gate
        session = gate.codec.decode(gate.read_cookie(conn.scope))
        if session is None and named is not None:
            known = self._known.get(self.session_id(named.person))
            session = known or Session(self.session_id(named.person), named.person, "concurrent", 0)
        if session is not None:
            try:
                async with asyncio.timeout(gate.store_timeout):
                    await gate.engine.release(session.person, session.session_id)
            except STORE_ERRORS as error:
                logger.warning("licence store unavailable at sign-out: %s", type(error).__name__)
            gate.memory.put(session.session_id, Seen(gate.clock(), ENDED))
            self._known.pop(session.session_id, None)
        response = RedirectResponse(gate.settings.logout_url or "/", 303, pages.NO_STORE)
        gate.answers.set_cookie(response, "")
        return response


def _with_groups(session: Session, named: Person) -> Session:
    return session if session.groups == named.groups else replace(session, groups=named.groups)


def refusal(conn: HTTPConnection, gate: Gate) -> Response:
    """The answer to a request whose identity was refused, or that names nobody."""
    html = pages.wants_html(conn.headers)
    if gate.verdict == "bad_identity":
        return pages.error(
            html,
            400,
            "bad_identity",
            "Sign-in not accepted",
            "The identity this request carries cannot be accepted.",
            [("Home", "/")],
        )
    target = conn.scope["path"]
    if not html:
        return JSONResponse({"error": "login_required", "login_url": target}, 401, pages.NO_STORE)
    return pages.message(
        401,
        "Not signed in",
        "This site takes your sign-in from the service in front of it, and none reached it. "
        "Sign in there, then try again.",
        [("Try again", target)],
    )
