"""``HaloGate``: the pure ASGI entry. Routes ``/_halo/*``, reads the cookie, asks the engine.

request → cookie (``session``) → licence decision (``licensing``) → page (``pages``) or the app.
A signed-in request between heartbeats is answered here from the cookie alone; the decision that
needs the store is ``decision.Decider``'s, and the pages and cookies answered are ``answers``'.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import identity as identity_sources
from . import startup
from .abandoned import AbandonedSessions
from .admin.ended import EndedListener
from .answers import Answers
from .breaker import CircuitBreaker, fault_counters
from .config import Settings
from .cookies import CookieReader
from .decision import Decider
from .identity.flow import RequestIdentity
from .installation import engine_for
from .licensing import connect
from .oidc import OIDCClient
from .paths import PathPrefixes
from .routes import OwnRoutes
from .session import HeartbeatMemory, Seen, Session, SessionCodec
from .verdict import ENDED, HARVESTED, STORE_ERRORS, Gate, LicensedUser

logger = logging.getLogger("halo_gate")

STORE_TIMEOUT = 5.0
# The scope key that marks a request whose Host passed HALO_GATE_ALLOWED_HOSTS.
HOST_CHECKED = "halo_gate.host_checked"
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013


class HaloGate:
    """Licence-enforcing login gateway: ``app = HaloGate(app, **settings)``."""

    # At most 29 attributes, so the hot path reads them the fastest way (see the test
    # ``test_the_hot_path_reads_the_gateways_attributes_the_fast_way``).

    def __init__(
        self,
        app: ASGIApp,
        *,
        identity: str | identity_sources.Resolver | None = None,
        **overrides: Any,
    ) -> None:
        resolver = None
        if callable(identity):
            resolver, identity = identity, "app"
        if identity is not None:
            overrides["identity"] = identity
        self.settings = settings = Settings.load(**overrides)
        self.store = connect(settings.redis_url)
        self.engine = engine_for(settings, self.store)
        self.codec = SessionCodec(
            settings.signing_keys,
            max_age=settings.idle_timeout,
            clock=self.clock,
            skew=settings.clock_skew,
        )
        self.oidc = OIDCClient(settings)
        self.memory = HeartbeatMemory()
        self.cookies = CookieReader(settings.cookie_name)
        self.read_cookie = self.cookies.read
        # A store that stops answering (rather than refusing connections) counts as down after
        # this many seconds, so requests never hang on it.
        self.store_timeout = STORE_TIMEOUT
        # After a store failure, answer without the store for a few seconds (see breaker.py).
        self.breaker = CircuitBreaker(probe_timeout=STORE_TIMEOUT)
        self.abandoned = AbandonedSessions(self.engine)
        self.decider = Decider(self)
        self._configured = False
        self._configure_lock = asyncio.Lock()
        self._named_groups = frozenset(settings.named_groups)
        self._admin_groups = frozenset(settings.admin_groups)
        prefix = settings.path_prefix
        self._own = PathPrefixes((prefix,))
        self._public = PathPrefixes(settings.public_paths)
        self._passive = PathPrefixes(settings.passive_paths)
        self.login_path = prefix + "/login"
        self.logout_path = prefix + "/logout"
        self.transaction_cookie = settings.cookie_name + "_login"
        # A "__Host-" cookie must have Path=/; otherwise the sign-in's cookie stays under the
        # prefix, off every other request.
        self.transaction_path = "/" if settings.cookie_name.startswith("__Host-") else prefix
        self.routes = OwnRoutes(self)
        self.answers = Answers(self)
        self.routes.admin.metrics.worker_counters.update(
            fault_counters(self.breaker, self.abandoned)
        )
        # A request naming another host is refused (400) before anything reads its Host.
        self._host_check: ASGIApp | None = None
        if settings.allowed_hosts:
            self._host_check = TrustedHostMiddleware(
                self._host_checked, allowed_hosts=list(settings.allowed_hosts)
            )
        if settings.public_url is None and settings.identity == "oidc":
            logger.warning(
                "HALO_GATE_PUBLIC_URL is not set: sign-in callbacks are built from each request's "
                "Host header. Set it (and HALO_GATE_ALLOWED_HOSTS) in production."
            )
        if settings.user_claim == "email" and not settings.require_verified_email:
            logger.warning(
                "HALO_GATE_REQUIRE_VERIFIED_EMAIL is false: anyone the identity provider lets "
                "claim an e-mail address is taken to be its owner."
            )
        self.ended_listener = EndedListener(self.engine, self._ended_elsewhere)
        # Who the request names, when the login is not ours; None with OIDC, whose cookie
        # alone names the person (so the requests between heartbeats stay as they are).
        source = identity_sources.build(settings, self.clock, resolver)
        self.app = app if source is None else source.wrap(app)
        self.asked = None if source is None else RequestIdentity(self, source)
        if settings.redis_url is None:
            logger.warning(
                "HALO_GATE_REDIS_URL is not set: using the embedded in-process store. Licences "
                "are counted in this process only and forgotten at restart."
            )

    def clock(self) -> float:
        """The gateway's time; shifted with the engine's clock so tests move both together."""
        return time.time() + self.engine.clock_offset

    # ASGI entry

    async def _host_checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[HOST_CHECKED] = True
        await self(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._host_check is not None and HOST_CHECKED not in scope:
            await self._host_check(scope, receive, send)  # comes back here once the host passed
            return
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self.app(scope, self._on_startup(receive), self._on_shutdown(send))
                return
            if kind != "websocket":
                await self.app(scope, receive, send)
                return
            if not self._origin_allowed(scope):
                # A page on another site may open a WebSocket with this site's cookies.
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                return
        path: str = scope["path"]
        if path in self._own:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                return
            if self.asked is None or not await self.asked.own_route(scope, receive, send):
                await self.routes(scope, receive, send)
            return
        session = self.codec.decode(self.read_cookie(scope))
        if self.asked is not None:
            asked = await self.asked(scope, session, public=path in self._public)
            if isinstance(asked, Gate):
                await self._answer(asked, scope, receive, send)
                return
            session = asked
        if path in self._public:
            # No licence is needed here, but an ended session is not handed on as signed in.
            verified = True
            if session is not None:
                gate = await self.check(session)
                session = gate.session if gate.verdict == "pass" else None
                verified = gate.verified
                if gate.cookie is not None:
                    send = self.answers.with_cookie(send, gate.cookie)
            self._hand_on(scope, session, verified=verified)
            await self.app(scope, receive, send)
            return
        passive = path in self._passive
        if session is not None and self._between_heartbeats(session, passive=passive):
            # The common case, kept free of store calls and of any await before the app's.
            self._hand_on(scope, session)
            await self.app(scope, receive, send)
            return
        gate = await self.decider.decide(session, passive=passive)
        await self._answer(gate, scope, receive, send)

    async def _answer(self, gate: Gate, scope: Scope, receive: Receive, send: Send) -> None:
        if gate.verdict == "pass":
            assert gate.session is not None
            self._hand_on(scope, gate.session, verified=gate.verified)
            if gate.cookie is not None:
                send = self.answers.with_cookie(send, gate.cookie)
            await self.app(scope, receive, send)
        elif gate.verdict == "anonymous":
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            refused = gate.verdict in ("login", "no_licence", "unidentified", "bad_identity")
            code = WS_POLICY_VIOLATION if refused else WS_TRY_AGAIN_LATER
            await send({"type": "websocket.close", "code": code})
        else:
            response = self.answers.refusal(HTTPConnection(scope), gate)
            if gate.cookie is not None:
                self.answers.set_cookie(response, gate.cookie)
            await response(scope, receive, send)

    def _origin_allowed(self, scope: Scope) -> bool:
        """A WebSocket handshake from a page of this gateway's origin, or of a listed one.

        Clients other than browsers send no ``Origin``; browsers always do, so a missing one is
        no cross-site page."""
        origin = Headers(scope=scope).get("origin")
        if origin is None:
            return True
        origin = origin.lower()
        return origin == self.origin(HTTPConnection(scope)) or (
            origin in self.settings.websocket_origins
        )

    def origin(self, conn: HTTPConnection) -> str:
        """This gateway's own origin: ``HALO_GATE_PUBLIC_URL``'s, else the request's."""
        if self.settings.public_url is not None:
            parts = urlsplit(self.settings.public_url)
        else:
            parts = urlsplit(str(conn.base_url))
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}".lower()

    def _on_startup(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.ended_listener.start()
                try:
                    async with asyncio.timeout(self.store_timeout):
                        await self.ensure_configured()
                except STORE_ERRORS as error:
                    logger.warning("licence store not answering at startup: %s", error)
            return message

        return wrapped

    def _on_shutdown(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.aclose()
            await send(message)

        return wrapped

    async def aclose(self) -> None:
        """Close the store's connections (done at lifespan shutdown)."""
        await self.ended_listener.stop()
        await self.abandoned.aclose()
        await self.store.aclose()

    def _ended_elsewhere(self, reason: str, session_ids: list[str]) -> None:
        """Sessions ended by any worker: refused here from their next request on."""
        ended = Seen(self.clock(), replace(ENDED, reason=reason))
        if reason == "harvested":
            # The slot went to a colleague, not the session: the next request asks the store,
            # which readmits it or refuses it with the reason.
            ended = Seen(0.0, HARVESTED)
        for session_id in session_ids:
            self.memory.put(session_id, ended)

    async def ensure_configured(self) -> None:
        """Apply the deployment's seats and named people once per worker, before any decision."""
        if self._configured:
            return
        async with self._configure_lock:
            if self._configured:
                return
            settings = self.settings
            seatless = await self.engine.configure(
                concurrent_seats=settings.concurrent_seats,
                named_seats=settings.named_seats,
                named_users=list(settings.named_users),
                pool_reserve=settings.pool_reserve,
                pool_cap=settings.pool_cap,
            )
            if seatless:
                logger.warning("no named seat left for: %s", ", ".join(seatless))
            if settings.redis_url is not None:
                await startup.warn_if_evicting(self.store)
            self._configured = True

    # Between heartbeats: the cookie alone decides (the rest is the decider's)

    def _between_heartbeats(self, session: Session, *, passive: bool) -> bool:
        """True when the cookie alone lets the request through: nothing refused it lately and
        no heartbeat (or, on a passive path, no liveness check) is due."""
        seen = self.memory.get(session.session_id)
        last: float
        if seen is None:
            last = session.heartbeat
        elif seen.refusal is not None:
            return False
        elif passive:
            last = max(session.heartbeat, seen.at, seen.checked)
        else:
            last = max(session.heartbeat, seen.at)
        return self.clock() - last < self.settings.heartbeat_interval

    async def check(self, session: Session) -> Gate:
        """The decision for a request that needs a live session but renews nothing: passive
        and public paths and the gateway's own routes. It asks the store at most once per
        heartbeat interval whether the session was ended elsewhere."""
        if self._between_heartbeats(session, passive=True):
            return Gate("pass", session)
        return await self.decider.decide(session, passive=True)

    def in_named_group(self, groups: tuple[str, ...]) -> bool:
        return not self._named_groups.isdisjoint(groups)

    def decisive_groups_first(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        """The groups, those the gateway decides by first (named, admin, pool rules): a long
        list is trimmed from its end to fit the cookie, and a readmission counts what is left."""
        decisive = self._named_groups | self._admin_groups | self.engine.pool_rules.groups
        return tuple(sorted(groups, key=lambda group: group not in decisive))

    def is_admin(self, session: Session) -> bool:
        return session.person in self.settings.admins or not self._admin_groups.isdisjoint(
            session.groups
        )

    def _hand_on(self, scope: Scope, session: Session | None, *, verified: bool = True) -> None:
        if session is None:
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            return
        scope["user"] = LicensedUser(
            session.person,
            session.licence,
            session.groups,
            session.session_id,
            verified=verified,
        )
        scopes = ["authenticated", f"licence:{session.licence}"]
        scope["auth"] = AuthCredentials(scopes if verified else [*scopes, "unverified"])
