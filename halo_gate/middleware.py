"""``HaloGate``: the pure ASGI entry. Routes ``/_halo/*``, reads the cookie, asks the engine.

request → cookie (``session``) → licence decision (``licensing``) → page (``pages``) or the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit

from itsdangerous import BadSignature, Signer
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request, cookie_parser
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin, pages
from .config import Settings
from .licensing import Decision, LicenceEngine, LicenceType, StoreUnavailable, connect
from .oidc import LoginFailed, OIDCClient
from .session import HeartbeatMemory, Seen, Session, SessionCodec, new_session_id

logger = logging.getLogger("halo_gate")

# A refused heartbeat is remembered this long (at most one interval), so a client hammering
# with a refused cookie costs one store call per hold, and a freed slot is found soon.
REFUSAL_HOLD = 5.0
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STORE_ERRORS = (StoreUnavailable, OSError, asyncio.TimeoutError)


class LicensedUser(BaseUser):
    """``scope["user"]`` for a person the gateway let in."""

    def __init__(
        self,
        identity: str,
        licence: LicenceType,
        groups: tuple[str, ...],
        session_id: str,
        *,
        verified: bool = True,
    ) -> None:
        self._identity = identity
        self.licence = licence
        self.groups = groups
        self.session_id = session_id
        # False when the store was down and HALO_GATE_ON_STORE_ERROR=allow let the request in.
        self.verified = verified

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self._identity

    @property
    def identity(self) -> str:
        """The person, lower-cased: the value of ``HALO_GATE_USER_CLAIM``."""
        return self._identity

    def __repr__(self) -> str:
        return f"LicensedUser({self.identity!r}, licence={self.licence!r})"


Verdict = Literal["pass", "login", "pool_full", "no_licence", "store_down"]


@dataclass(frozen=True, slots=True)
class Gate:
    """What the gateway decided for one request to the application."""

    verdict: Verdict
    session: Session | None = None
    cookie: str | None = None  # a new cookie value; "" clears the cookie
    decision: Decision | None = None
    verified: bool = True


def local_path(value: str | None) -> str:
    """``value`` if it is a path on this site, else ``/``: never a way off the site."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 0x21 or char in "\\\x7f" for char in value):
        # Browsers drop tabs and newlines and read "\" as "/", which could turn it into "//host".
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _matches(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(
        path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")
        for prefix in prefixes
    )


class HaloGate:
    """Licence-enforcing login gateway: ``app = HaloGate(app, **settings)``."""

    def __init__(self, app: ASGIApp, **overrides: Any) -> None:
        self.app = app
        self.settings = settings = Settings.load(**overrides)
        self.store = connect(settings.redis_url)
        self.engine = LicenceEngine(
            self.store,
            instance=settings.instance,
            idle_timeout=settings.idle_timeout,
            session_max_age=settings.session_max_age,
            named_cooldown=settings.named_cooldown,
            audit_maxlen=settings.audit_maxlen,
            history_days=settings.history_days,
        )
        self.codec = SessionCodec(
            settings.signing_keys, max_age=settings.idle_timeout, clock=self.clock
        )
        self.oidc = OIDCClient(settings)
        self.memory = HeartbeatMemory()
        # Requests let through unverified while the store was down (ON_STORE_ERROR=allow).
        self.unverified_requests = 0
        self._csrf = Signer(settings.signing_keys[::-1], salt="halo-csrf")
        self._configured = False
        self._configure_lock = asyncio.Lock()
        self._named_groups = frozenset(settings.named_groups)
        self._admin_groups = frozenset(settings.admin_groups)
        prefix = settings.path_prefix
        self.login_path = prefix + "/login"
        self.logout_path = prefix + "/logout"
        self.transaction_cookie = settings.cookie_name + "_login"
        self._routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
            prefix + "/login": self._login,
            prefix + "/callback": self._callback,
            prefix + "/logout": self._logout,
            prefix + "/me": self._me,
            prefix + "/health": self._health,
            prefix + "/ready": self._ready,
            prefix + "/api/usage": self._usage,
        }
        if settings.redis_url is None:
            logger.warning(
                "HALO_GATE_REDIS_URL is not set: using the embedded in-process store. Licences "
                "are counted in this process only and forgotten at restart."
            )

    def clock(self) -> float:
        """The gateway's time; shifted with the engine's clock so tests move both together."""
        return time.time() + self.engine.clock_offset

    # ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._on_startup(receive), self._on_shutdown(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        prefix = self.settings.path_prefix
        if path == prefix or path.startswith(prefix + "/"):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                return
            await self._own_route(scope, receive, send)
            return
        session = self.codec.decode(self._cookie(scope))
        if _matches(path, self.settings.public_paths):
            self._hand_on(scope, session)
            await self.app(scope, receive, send)
            return
        gate = await self._decide(session, passive=_matches(path, self.settings.passive_paths))
        if gate.verdict == "pass":
            assert gate.session is not None
            self._hand_on(scope, gate.session, verified=gate.verified)
            if gate.cookie is not None:
                send = self._with_cookie(send, gate.cookie)
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            code = WS_POLICY_VIOLATION if gate.verdict in ("login", "no_licence") else None
            await send({"type": "websocket.close", "code": code or WS_TRY_AGAIN_LATER})
        else:
            response = self._refusal(HTTPConnection(scope), gate)
            if gate.cookie is not None:
                self._set_cookie(response, gate.cookie)
            await response(scope, receive, send)

    def _cookie(self, scope: Scope) -> str | None:
        # The same reading as starlette's ``HTTPConnection.cookies``, without building one on
        # every request.
        for name, value in scope["headers"]:
            if name == b"cookie":
                return cookie_parser(value.decode("latin-1")).get(self.settings.cookie_name)
        return None

    def _on_startup(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._ensure_configured()
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
        await self.store.aclose()

    async def _ensure_configured(self) -> None:
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
            )
            if seatless:
                logger.warning("no named seat left for: %s", ", ".join(seatless))
            self._configured = True

    # The licence decision for a request to the application

    async def _decide(self, session: Session | None, *, passive: bool) -> Gate:
        if session is None:
            return Gate("login")
        seen = self.memory.get(session.session_id)
        now = self.clock()
        if seen is not None and seen.refusal is not None:
            if seen.refusal.outcome == "ended":
                return Gate("login", cookie="")
            # Passive paths never call the store, so they repeat the last refusal.
            hold = min(REFUSAL_HOLD, self.settings.heartbeat_interval)
            if passive or now - seen.at < hold:
                return self._refused(seen.refusal, seen.at, now)
        elif passive:
            return Gate("pass", session)
        else:
            last = max(session.heartbeat, seen.at if seen is not None else 0)
            if now - last < self.settings.heartbeat_interval:
                return Gate("pass", session)
        # Marked before the round trip, so this session's concurrent requests do not repeat it.
        self.memory.put(session.session_id, Seen(now))
        try:
            await self._ensure_configured()
            decision = await self.engine.heartbeat(
                session.person, session.session_id, named_group=self._in_named_group(session)
            )
        except STORE_ERRORS as error:
            self.memory.put(session.session_id, seen)
            return self._store_down(session, error)
        if decision.admitted:
            renewed = session.renewed(now, decision.licence)
            return Gate("pass", renewed, cookie=self.codec.encode(renewed))
        self.memory.put(session.session_id, Seen(now, decision))
        if decision.outcome == "ended":
            return Gate("login", cookie="")
        return self._refused(decision, now, now)

    def _refused(self, decision: Decision, at: float, now: float) -> Gate:
        if decision.outcome == "pool_full":
            # The remembered answer's wait shrinks as time passes.
            retry_after = max(1, decision.retry_after - int(now - at))
            return Gate("pool_full", decision=_with_retry_after(decision, retry_after))
        return Gate("no_licence", decision=decision)

    def _store_down(self, session: Session, error: BaseException) -> Gate:
        if self.settings.on_store_error == "allow":
            self.unverified_requests += 1
            logger.warning(
                "licence store unavailable (%s); letting session %s… through unverified",
                type(error).__name__,
                session.session_id[:6],
            )
            return Gate("pass", session, verified=False)
        logger.warning("licence store unavailable (%s); request denied", type(error).__name__)
        return Gate("store_down")

    def _in_named_group(self, session: Session) -> bool:
        return not self._named_groups.isdisjoint(session.groups)

    def _is_admin(self, session: Session) -> bool:
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

    # Responses

    def _refusal(self, conn: HTTPConnection, gate: Gate) -> Response:
        html = pages.wants_html(conn.headers)
        if gate.verdict == "login":
            navigation = pages.is_navigation(conn.scope["method"], conn.headers)
            return pages.login_required(navigation, self._login_url(conn))
        if gate.verdict == "store_down":
            return pages.store_unavailable(html, retry_url=str(conn.url))
        decision = gate.decision
        assert decision is not None
        if gate.verdict == "pool_full":
            return pages.pool_full(
                html,
                capacity=decision.capacity,
                in_use=decision.in_use,
                retry_after=decision.retry_after,
                retry_url=str(conn.url),
                logout_url=self.logout_path,
                now=self.clock(),
            )
        return pages.no_licence(
            html,
            "You have no named licence and no concurrent licence is available to you.",
            self.logout_path,
        )

    def _login_url(self, conn: HTTPConnection) -> str:
        target = conn.scope["path"]
        if conn.scope.get("query_string"):
            target += "?" + conn.scope["query_string"].decode("latin-1")
        return f"{self.login_path}?next={quote(target, safe='')}"

    def _cookie_header(self, value: str) -> str:
        response = Response()
        self._set_cookie(response, value)
        return response.headers["set-cookie"]

    def _set_cookie(self, response: Response, value: str) -> None:
        settings = self.settings
        if value:
            response.set_cookie(
                settings.cookie_name,
                value,
                max_age=settings.session_max_age,
                path="/",
                secure=settings.cookie_secure,
                httponly=True,
                samesite="lax",
            )
        else:
            response.delete_cookie(
                settings.cookie_name,
                path="/",
                secure=settings.cookie_secure,
                httponly=True,
                samesite="lax",
            )

    def _with_cookie(self, send: Send, value: str) -> Send:
        header = self._cookie_header(value)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message.setdefault("headers", [])
                MutableHeaders(scope=message).append("set-cookie", header)
            await send(message)

        return send_with_cookie

    # The gateway's own routes under the path prefix

    async def _own_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self._routes.get(scope["path"])
        if request.method in STATE_CHANGING and not self._same_origin(request):
            response: Response = pages.error(
                pages.wants_html(request.headers),
                403,
                "cross_origin",
                "Request refused",
                "This request did not come from this site, so it was refused.",
                [("Home", "/")],
            )
        elif handler is None:
            response = pages.error(
                pages.wants_html(request.headers),
                404,
                "not_found",
                "Not found",
                "There is no such page.",
                [("Home", "/")],
            )
        else:
            response = await handler(request)
        await response(scope, receive, send)

    def _origin(self, request: Request) -> str:
        base = self.settings.public_url or str(request.base_url)
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}"

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            referer = request.headers.get("referer")
            if referer is None:
                return False
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        return origin == self._origin(request)

    def _callback_url(self, request: Request) -> str:
        base = self.settings.public_url or str(request.base_url).rstrip("/")
        return base + self.settings.path_prefix + "/callback"

    def _session(self, request: Request) -> Session | None:
        session = self.codec.decode(request.cookies.get(self.settings.cookie_name))
        if session is None:
            return None
        seen = self.memory.get(session.session_id)
        if seen is not None and seen.refusal is not None and seen.refusal.outcome == "ended":
            return None
        return session

    def _method_not_allowed(self, request: Request, allowed: str) -> Response:
        return pages.error(
            pages.wants_html(request.headers),
            405,
            "method_not_allowed",
            "Method not allowed",
            f"This page answers {allowed} only.",
            [("Home", "/")],
        )

    async def _login(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed(request, "GET")
        next_path = local_path(request.query_params.get("next"))
        try:
            started = await self.oidc.start(
                self._callback_url(request),
                next_path,
                request.cookies.get(self.transaction_cookie),
            )
        except LoginFailed as failure:
            return self._login_failed(request, failure)
        response = RedirectResponse(started.url, status_code=302, headers=pages.NO_STORE)
        response.set_cookie(
            self.transaction_cookie,
            started.transaction,
            max_age=600,
            path=self.settings.path_prefix,
            secure=self.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def _login_failed(self, request: Request, failure: LoginFailed) -> Response:
        html = pages.wants_html(request.headers)
        if failure.status == 403:
            return pages.no_licence(html, str(failure), self.logout_path)
        return pages.error(
            html,
            failure.status,
            "login_failed",
            "Sign-in failed",
            str(failure),
            [("Sign in again", self.login_path)],
        )

    async def _callback(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed(request, "GET")
        try:
            identity, next_path = await self.oidc.finish(
                dict(request.query_params), request.cookies.get(self.transaction_cookie)
            )
        except LoginFailed as failure:
            return self._login_failed(request, failure)
        session_id = new_session_id()
        named_group = not self._named_groups.isdisjoint(identity.groups)
        html = pages.wants_html(request.headers)
        try:
            await self._ensure_configured()
            decision = await self.engine.admit(identity.person, session_id, named_group=named_group)
        except STORE_ERRORS as error:
            logger.warning("licence store unavailable at sign-in: %s", type(error).__name__)
            return pages.store_unavailable(html, retry_url=self.login_path)
        response: Response
        if decision.outcome == "pool_full":
            response = pages.pool_full(
                html,
                capacity=decision.capacity,
                in_use=decision.in_use,
                retry_after=decision.retry_after,
                retry_url=f"{self.login_path}?next={quote(next_path, safe='')}",
                logout_url=self.logout_path,
                now=self.clock(),
            )
        elif not decision.admitted or decision.licence is None:
            response = pages.no_licence(
                html,
                "You have no named licence and no concurrent licence is available to you.",
                self.logout_path,
            )
        else:
            session = Session(
                session_id=session_id,
                person=identity.person,
                licence=decision.licence,
                heartbeat=int(self.clock()),
                groups=identity.groups,
            )
            self.memory.put(session_id, Seen(self.clock()))
            response = RedirectResponse(next_path, status_code=302, headers=pages.NO_STORE)
            self._set_cookie(response, self.codec.encode(session))
        response.delete_cookie(self.transaction_cookie, path=self.settings.path_prefix)
        return response

    def csrf_token(self, session: Session) -> str:
        return self._csrf.sign(session.session_id).decode()

    async def _logout(self, request: Request) -> Response:
        session = self._session(request)
        if request.method in ("GET", "HEAD"):
            return pages.logout_page(
                person=session.person if session else None,
                csrf_token=self.csrf_token(session) if session else "",
                logout_url=self.logout_path,
                login_url=self.login_path,
            )
        if request.method != "POST":
            return self._method_not_allowed(request, "GET and POST")
        if session is not None:
            form = dict(parse_qsl((await request.body()).decode("latin-1")))
            try:
                valid = self._csrf.unsign(form.get("csrf_token", "")) == session.session_id.encode()
            except BadSignature:
                valid = False
            if not valid:
                return pages.error(
                    pages.wants_html(request.headers),
                    403,
                    "csrf",
                    "Request refused",
                    "The sign-out form was out of date. Please try again.",
                    [("Sign out", self.logout_path)],
                )
            try:
                await self.engine.release(session.person, session.session_id)
                # release() leaves no tombstone, so a copy of this cookie replayed to another
                # worker would be re-admitted at its next heartbeat; ending it leaves one.
                await self.engine.end_session(session.person, session.session_id, by="logout")
            except STORE_ERRORS as error:
                # The slot then frees by its idle timeout; the person is signed out here anyway.
                logger.warning("licence store unavailable at sign-out: %s", type(error).__name__)
            ended = Decision("ended", None, 0, 0, 0, 0)
            self.memory.put(session.session_id, Seen(self.clock(), ended))
        home = (self.settings.public_url or str(request.base_url).rstrip("/")) + "/"
        target = await self.oidc.logout_url(home) or "/"
        response = RedirectResponse(target, status_code=303, headers=pages.NO_STORE)
        self._set_cookie(response, "")
        return response

    async def _me(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._refusal(request, Gate("login"))
        return JSONResponse(
            {
                "user": session.person,
                "licence": session.licence,
                "groups": list(session.groups),
                "session_id": session.session_id,
                "expires_at": session.heartbeat + self.settings.idle_timeout,
            },
            headers=pages.NO_STORE,
        )

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok", headers=pages.NO_STORE)

    async def _ready(self, request: Request) -> Response:
        try:
            await self.engine.ping()
        except STORE_ERRORS:
            return PlainTextResponse("unavailable", status_code=503, headers=pages.NO_STORE)
        return PlainTextResponse("ready", headers=pages.NO_STORE)

    async def _usage(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._refusal(request, Gate("login"))
        if not self._is_admin(session):
            return pages.error(
                pages.wants_html(request.headers),
                403,
                "forbidden",
                "Administrators only",
                "This page is for administrators.",
                [("Home", "/")],
            )
        return await admin.usage(self.engine)


def _with_retry_after(decision: Decision, retry_after: int) -> Decision:
    return Decision(
        decision.outcome,
        decision.licence,
        decision.expires_at,
        decision.capacity,
        decision.in_use,
        retry_after,
    )
