"""The gateway's own routes under ``HALO_GATE_PATH_PREFIX``: login, callback, logout, me,
health and ready; the administrators' paths are handed to ``halo_gate.admin``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlsplit

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from . import admin, pages
from .oidc import TRANSACTION_MAX_AGE, LoginFailed
from .paths import local_path
from .session import Seen, Session, new_session_id
from .verdict import ENDED, STORE_ERRORS, Gate

if TYPE_CHECKING:
    from .middleware import HaloGate

logger = logging.getLogger("halo_gate")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OwnRoutes:
    """An ASGI app for the paths under the prefix; ``HaloGate`` hands those requests to it."""

    def __init__(self, gate: HaloGate) -> None:
        self.gate = gate
        self.settings = gate.settings
        prefix = gate.settings.path_prefix
        self._no_return = {gate.login_path, gate.logout_path, prefix + "/callback"}
        self._csrf = Signer(gate.settings.signing_keys[::-1], salt="halo-csrf")
        self._routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
            prefix + "/login": self._login,
            prefix + "/callback": self._callback,
            prefix + "/logout": self._logout,
            prefix + "/me": self._me,
            prefix + "/health": self._health,
            prefix + "/ready": self._ready,
        }
        self.admin = admin.Administration(gate.engine, gate.settings, timeout=gate.store_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self._routes.get(scope["path"])
        if (
            request.method in STATE_CHANGING
            and not self._same_origin(request)
            and not self.admin.token_admin(request)
        ):
            response: Response = pages.error(
                pages.wants_html(request.headers),
                403,
                "cross_origin",
                "Request refused",
                "This request did not come from this site, so it was refused.",
                [("Home", "/")],
            )
        elif handler is None and self.admin.owns(scope["path"]):
            response = await self._admin(request)
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

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            referer = request.headers.get("referer")
            if referer is None:
                return False
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        return origin.lower() == self.gate.origin(request)

    def _callback_url(self, request: Request) -> str:
        base = self.settings.public_url or str(request.base_url).rstrip("/")
        return base + self.settings.path_prefix + "/callback"

    def _session(self, request: Request) -> Session | None:
        """The cookie's session unless this worker saw it end (enough for signing out)."""
        session = self.gate.codec.decode(self.gate.read_cookie(request.scope))
        if session is None or self.gate.memory.ended(session.session_id):
            return None
        return session

    async def _signed_in(self, request: Request) -> Session | Response:
        """The session, checked as a gated request's would be (an ended one is refused on every
        worker within a heartbeat interval); else the answer to give."""
        session = self.gate.codec.decode(self.gate.read_cookie(request.scope))
        gate = Gate("login") if session is None else await self.gate.check(session)
        if gate.verdict == "pass" and gate.session is not None:
            return gate.session
        response = self.gate.answers.refusal(request, gate)
        if gate.cookie is not None:
            self.gate.answers.set_cookie(response, gate.cookie)
        return response

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
        if urlsplit(next_path).path in self._no_return:
            next_path = "/"  # back to the sign-in (or out) after signing in would loop
        try:
            started = await self.gate.oidc.start(
                self._callback_url(request),
                next_path,
                request.cookies.get(self.gate.transaction_cookie),
            )
        except LoginFailed as failure:
            return self._login_failed(request, failure)
        response = RedirectResponse(started.url, status_code=302, headers=pages.NO_STORE)
        response.set_cookie(
            self.gate.transaction_cookie,
            started.transaction,
            max_age=TRANSACTION_MAX_AGE,
            path=self.gate.transaction_path,
            secure=self.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def _login_failed(self, request: Request, failure: LoginFailed) -> Response:
        html = pages.wants_html(request.headers)
        if failure.status == 403:
            return pages.no_licence(html, str(failure), self.gate.logout_path)
        return pages.error(
            html,
            failure.status,
            "login_failed",
            "Sign-in failed",
            str(failure),
            [("Sign in again", self.gate.login_path)],
        )

    async def _callback(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed(request, "GET")
        html = pages.wants_html(request.headers)

        async def spend(state: str) -> bool:
            # Spent in the store, so a replayed callback fails on every worker even where the
            # identity provider would accept its code twice.
            async with asyncio.timeout(self.gate.store_timeout):
                return await self.gate.engine.claim_once(state, ttl=TRANSACTION_MAX_AGE)

        if not self.gate.breaker.allow():
            return pages.store_unavailable(html, retry_url=self.gate.login_path)
        try:
            identity, next_path = await self.gate.oidc.finish(
                dict(request.query_params),
                request.cookies.get(self.gate.transaction_cookie),
                spend,
            )
        except LoginFailed as failure:
            return self._login_failed(request, failure)
        except STORE_ERRORS as error:
            logger.warning("licence store unavailable at sign-in: %s", type(error).__name__)
            self.gate.breaker.failed()
            return pages.store_unavailable(html, retry_url=self.gate.login_path)
        session_id = new_session_id()
        named_group = self.gate.in_named_group(identity.groups)
        try:
            async with asyncio.timeout(self.gate.store_timeout):
                await self.gate.ensure_configured()
                decision = await self.gate.engine.admit(
                    identity.person, session_id, named_group=named_group, groups=identity.groups
                )
        except STORE_ERRORS as error:
            logger.warning("licence store unavailable at sign-in: %s", type(error).__name__)
            self.gate.breaker.failed()
            # The admission may still run once the store wakes: give the id back.
            self.gate.abandoned.release(
                identity.person, session_id, timeout=self.gate.store_timeout
            )
            return pages.store_unavailable(html, retry_url=self.gate.login_path)
        self.gate.breaker.succeeded()
        response: Response
        groups = self.gate.decisive_groups_first(identity.groups)
        if decision.position:
            # A place in the line: the person is identified and signed in as a waiter (a
            # heartbeat of 0 is always due, so every request of theirs asks the store, with no
            # trip to the identity provider), and their page is the waiting room.
            now = self.gate.clock()
            waiter = Session(session_id, identity.person, "concurrent", 0, groups)
            self.gate.memory.put(session_id, Seen(now, decision))
            response = RedirectResponse(next_path, status_code=302, headers=pages.NO_STORE)
            self.gate.answers.set_cookie(response, self.gate.codec.encode(waiter))
        elif decision.outcome in ("pool_full", "group_cap", "queue_full"):
            response = pages.pool_full(
                html,
                capacity=decision.capacity,
                in_use=decision.in_use,
                retry_after=decision.retry_after,
                retry_url=f"{self.gate.login_path}?next={quote(next_path, safe='')}",
                logout_url=self.gate.logout_path,
                now=self.gate.clock(),
                **pages.refusal_details(decision),
            )
        elif not decision.admitted or decision.licence is None:
            response = pages.no_licence(
                html,
                "You have no named licence and no concurrent licence is available to you.",
                self.gate.logout_path,
            )
        else:
            session = Session(
                session_id=session_id,
                person=identity.person,
                licence=decision.licence,
                heartbeat=int(self.gate.clock()),
                groups=groups,
            )
            self.gate.memory.put(session_id, Seen(self.gate.clock()))
            response = RedirectResponse(next_path, status_code=302, headers=pages.NO_STORE)
            self.gate.answers.set_cookie(response, self.gate.codec.encode(session))
        response.delete_cookie(
            self.gate.transaction_cookie,
            path=self.gate.transaction_path,
            secure=self.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def csrf_token(self, session: Session) -> str:
        return self._csrf.sign(session.session_id).decode()

    async def _logout(self, request: Request) -> Response:
        session = self._session(request)
        if request.method in ("GET", "HEAD"):
            return pages.logout_page(
                person=session.person if session else None,
                csrf_token=self.csrf_token(session) if session else "",
                logout_url=self.gate.logout_path,
                login_url=self.gate.login_path,
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
                    [("Sign out", self.gate.logout_path)],
                )
            try:
                async with asyncio.timeout(self.gate.store_timeout):
                    # The release leaves a tombstone: a copy of this cookie replayed to another
                    # worker must sign in again at its next heartbeat.
                    await self.gate.engine.release(session.person, session.session_id)
            except STORE_ERRORS as error:
                # The slot then frees by its idle timeout; the person is signed out here anyway.
                logger.warning("licence store unavailable at sign-out: %s", type(error).__name__)
            self.gate.memory.put(session.session_id, Seen(self.gate.clock(), ENDED))
        home = (self.settings.public_url or str(request.base_url).rstrip("/")) + "/"
        target = await self.gate.oidc.logout_url(home) or "/"
        response = RedirectResponse(target, status_code=303, headers=pages.NO_STORE)
        self.gate.answers.set_cookie(response, "")
        return response

    async def _me(self, request: Request) -> Response:
        session = await self._signed_in(request)
        if isinstance(session, Response):
            return session
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
            async with asyncio.timeout(self.gate.store_timeout):
                await self.gate.engine.ping()
        except STORE_ERRORS:
            return PlainTextResponse("unavailable", status_code=503, headers=pages.NO_STORE)
        return PlainTextResponse("ready", headers=pages.NO_STORE)

    async def _admin(self, request: Request) -> Response:
        """Hands an administrators' path to ``halo_gate.admin`` with who is asking: a bearer
        token is judged there; a session cookie is checked here like any own route's."""
        navigation = pages.is_navigation(request.method, request.headers)
        login_url = self.gate.answers.login_url(request)
        caller = admin.Caller(None, False, "", login_url, navigation)
        if admin.bearer(request.headers) is None:
            session = await self._signed_in(request)
            if isinstance(session, Response):
                return session
            caller = admin.Caller(
                session.person,
                self.gate.is_admin(session),
                self.csrf_token(session),
                login_url,
                navigation,
            )
        return await self.admin.handle(request, caller)
