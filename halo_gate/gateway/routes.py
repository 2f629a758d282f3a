"""The gateway's own routes under ``HALO_GATE_PATH_PREFIX``: login, callback, logout, me,
health and ready; the administrators' paths are handed to ``halo_gate.admin``.

These routes identify the person (by the cookie or the configured source) and never license
them: an administrator without a seat reaches the console while the pool is full, and nobody is
put in the line by opening ``/_halo/me``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from .. import admin, pages
from ..identity import Person
from ..identity.oidc import TRANSACTION_MAX_AGE, LoginFailed, OIDCClient
from ..licensing import StoreUnavailable
from ..licensing.abandoned import AbandonedSessions
from ..session import Seen, Session, new_session_id
from .answer import NO_LICENCE_TEXT, Answerer
from .core import Core
from .decide import WAITING, Decider, client_of
from .identify import Identifier
from .paths import local_path
from .verdict import ENDED, Gate

logger = logging.getLogger("halo_gate")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The most characters of the IdP's name for the person kept in the cookie (which has a budget).
NAME_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person an own route is asked by, licensed or not."""

    person: str
    groups: tuple[str, ...]
    session_id: str  # the cookie's session, or the one the source's person would hold
    session: Session | None  # the live session of the cookie (or this worker), if any


class OwnRoutes:
    """An ASGI app for the paths under the prefix; ``HaloGate`` hands those requests to it."""

    def __init__(
        self,
        core: Core,
        identify: Identifier,
        decider: Decider,
        answer: Answerer,
        administration: admin.Administration,
        oidc: OIDCClient | None,
        abandoned: AbandonedSessions,
    ) -> None:
        self.settings = settings = core.settings
        self._core = core
        self._urls = urls = core.urls
        self._identify = identify
        self._decider = decider
        self._answer = answer
        self._admin = administration
        self._oidc = oidc
        self._abandoned = abandoned
        self.transaction_cookie = settings.cookie_name + "_login"
        # A "__Host-" cookie must have Path=/; otherwise the sign-in's cookie stays under the
        # prefix, off every other request.
        self._transaction_path = "/" if settings.cookie_name.startswith("__Host-") else urls.prefix
        self._no_return = {urls.login, urls.logout, urls.callback}
        self._routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
            urls.login: self._login,
            urls.callback: self._callback,
            urls.logout: self._logout,
            urls.prefix + "/me": self._me,
            urls.prefix + "/health": self._health,
            urls.prefix + "/ready": self._ready,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self._routes.get(scope["path"])
        html = pages.wants_html(request.headers)
        if (
            request.method in STATE_CHANGING
            and not self._urls.same_origin(request)
            and not self._admin.token_admin(request)
        ):
            response: Response = pages.error(
                html,
                403,
                "cross_origin",
                "Request refused",
                "This request did not come from this site, so it was refused.",
                [("Home", "/")],
            )
        elif handler is None and self._admin.owns(scope["path"]):
            response = await self._administration(request)
        elif handler is None:
            response = pages.error(
                html, 404, "not_found", "Not found", "There is no such page.", [("Home", "/")]
            )
        else:
            response = await handler(request)
        await response(scope, receive, send)

    # Who is asking

    async def _visitor(self, request: Request) -> Visitor | Response | None:
        """The person the request is from (None: nobody), or the answer to give instead."""
        core = self._core
        cookie = core.codec.decode(core.cookies.read(request.scope))
        who = await self._identify(request.scope, cookie)
        if isinstance(who, Gate):
            return self._answer.refusal(request, who)
        if who is None:
            return None
        if isinstance(who, Person):
            return Visitor(who.person, who.groups, self._identify.session_id(who.person), None)
        gate = await self._decider.alive(who)
        if gate.verdict == "pass":
            return Visitor(who.person, who.groups, who.session_id, who)
        if gate.verdict == "login" and self._identify.source is not None:
            # The cookie's session ended, but the source still names the person.
            return Visitor(who.person, who.groups, self._identify.session_id(who.person), None)
        response = self._answer.refusal(request, gate)
        if gate.cookie is not None:
            self._answer.set_cookie(response, gate.cookie)
        return response

    def _nobody(self, request: Request) -> Response:
        """The answer for a route that needs a person when the request names nobody. With a
        source other than OIDC the sign-in is not ours, so it is a page, never a redirect."""
        if self._oidc is None:
            return pages.not_signed_in(pages.wants_html(request.headers), "/")
        navigation = pages.is_navigation(request.method, request.headers)
        return pages.login_required(navigation, self._urls.login_url(request))

    # Routes

    async def _login(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed(request, "GET")
        next_path = local_path(request.query_params.get("next"))
        if urlsplit(next_path).path in self._no_return:
            next_path = "/"  # back to the sign-in (or out) after signing in would loop
        if self._oidc is None:
            # The sign-in is the proxy's or the application's: back to where the person was.
            return RedirectResponse(next_path, 302, pages.NO_STORE)
        try:
            started = await self._oidc.start(
                self._urls.callback_url(request),
                next_path,
                request.cookies.get(self.transaction_cookie),
            )
        except LoginFailed as failure:
            return self._login_failed(request, failure)
        response = RedirectResponse(started.url, status_code=302, headers=pages.NO_STORE)
        response.set_cookie(
            self.transaction_cookie,
            started.transaction,
            max_age=TRANSACTION_MAX_AGE,
            path=self._transaction_path,
            secure=self.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def _login_failed(self, request: Request, failure: LoginFailed) -> Response:
        html = pages.wants_html(request.headers)
        if failure.status == 403:
            return pages.no_licence(html, str(failure), self._urls.logout)
        return pages.error(
            html,
            failure.status,
            "login_failed",
            "Sign-in failed",
            str(failure),
            [("Sign in again", self._urls.login)],
        )

    async def _callback(self, request: Request) -> Response:
        if self._oidc is None:
            return pages.error(False, 404, "not_found", "Not found", "No such page.", [])
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed(request, "GET")
        html = pages.wants_html(request.headers)
        engine, guard = self._core.engine, self._core.guard

        async def spend(state: str) -> bool:
            # Spent in the store, so a replayed callback fails on every worker even where the
            # identity provider would accept its code twice.
            return await guard.call(lambda: engine.claim_once(state, ttl=TRANSACTION_MAX_AGE))

        try:
            identity, next_path = await self._oidc.finish(
                dict(request.query_params), request.cookies.get(self.transaction_cookie), spend
            )
        except LoginFailed as failure:
            return self._login_failed(request, failure)
        except StoreUnavailable as error:
            logger.warning("licence store unavailable at sign-in: %s", error)
            return pages.store_unavailable(html, retry_url=self._urls.login)
        session_id = new_session_id()
        groups = self._core.roles.decisive_first(identity.groups)
        name = identity.claims.get(self.settings.name_claim)
        name = name.strip()[:NAME_LIMIT] if isinstance(name, str) else ""
        try:
            decision = await self._decider.admit(
                identity.person, session_id, identity.groups, client_of(request.scope)
            )
        except StoreUnavailable as error:
            logger.warning("licence store unavailable at sign-in: %s", error)
            # The admission may still run once the store wakes: give the id back.
            self._abandoned.release(identity.person, session_id)
            return pages.store_unavailable(html, retry_url=self._urls.login)
        now = self._core.clock()
        response: Response
        if decision.position:
            # A place in the line: the person is identified and signed in as a waiter (a
            # heartbeat of 0 is always due, so every request of theirs asks the store, with no
            # trip to the identity provider), and their page is the waiting room.
            waiter = Session(session_id, identity.person, "concurrent", 0, groups, name)
            self._core.memory.put(session_id, Seen(now, decision))
            response = RedirectResponse(next_path, status_code=302, headers=pages.NO_STORE)
            self._answer.set_cookie(response, self._core.codec.encode(waiter))
        elif decision.outcome in WAITING:
            refused = Gate("pool_full", decision=decision)
            retry_url = self._urls.login_for(next_path)
            response = self._answer.pool_full(html, refused, retry_url=retry_url)
        elif not decision.admitted or decision.licence is None:
            response = pages.no_licence(html, NO_LICENCE_TEXT, self._urls.logout)
        else:
            session = Session(session_id, identity.person, decision.licence, int(now), groups, name)
            self._core.memory.put(session_id, Seen(now))
            response = RedirectResponse(next_path, status_code=302, headers=pages.NO_STORE)
            self._answer.set_cookie(response, self._core.codec.encode(session))
        response.delete_cookie(
            self.transaction_cookie,
            path=self._transaction_path,
            secure=self.settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    async def _logout(self, request: Request) -> Response:
        """GET shows the sign-out form; only its POST (same origin, CSRF token) signs out."""
        if request.method not in ("GET", "HEAD", "POST"):
            return self._method_not_allowed(request, "GET and POST")
        visitor = await self._signing_out(request)
        csrf = self._core.csrf
        if request.method != "POST":
            return pages.logout_page(
                person=visitor.person if visitor else None,
                csrf_token=csrf.token(visitor.session_id) if visitor else "",
                logout_url=self._urls.logout,
                login_url=self._urls.login,
                others=await self._other_sessions(visitor) if visitor else 0,
            )
        if visitor is not None:
            form = dict(parse_qsl((await request.body()).decode("latin-1")))
            if not csrf.valid(form.get("csrf_token", ""), visitor.session_id):
                return pages.error(
                    pages.wants_html(request.headers),
                    403,
                    "csrf",
                    "Request refused",
                    "The sign-out form was out of date. Please try again.",
                    [("Sign out", self._urls.logout)],
                )
            await self._release(visitor)
            if form.get("everywhere"):
                await self._release_everywhere(visitor)
        target = self.settings.logout_url or "/"
        if self._oidc is not None:
            home = self._urls.base_url(request) + "/"
            target = await self._oidc.logout_url(home) or "/"
        response = RedirectResponse(target, status_code=303, headers=pages.NO_STORE)
        self._answer.set_cookie(response, "")
        return response

    async def _signing_out(self, request: Request) -> Visitor | None:
        """Who signs out: the visitor, or the cookie's session alone when the source names
        nobody (the application's own sign-out came first). No store call is made."""
        core = self._core
        cookie = core.codec.decode(core.cookies.read(request.scope))
        if cookie is not None and core.memory.ended(cookie.session_id):
            cookie = None
        who = await self._identify(request.scope, cookie)
        if isinstance(who, Session):
            return Visitor(who.person, who.groups, who.session_id, who)
        if isinstance(who, Person):
            return Visitor(who.person, who.groups, self._identify.session_id(who.person), None)
        if cookie is not None and (self._identify.source is None or who is None):
            return Visitor(cookie.person, cookie.groups, cookie.session_id, cookie)
        return None

    async def _release(self, visitor: Visitor) -> None:
        engine = self._core.engine
        try:
            # The release leaves a tombstone: a copy of this cookie replayed to another worker
            # must sign in again at its next heartbeat.
            await self._core.guard.call(lambda: engine.release(visitor.person, visitor.session_id))
        except StoreUnavailable as error:
            # The slot then frees by its idle timeout; the person is signed out here anyway.
            logger.warning("licence store unavailable at sign-out: %s", error)
        self._core.memory.put(visitor.session_id, Seen(self._core.clock(), ENDED))
        self._identify.forget(visitor.session_id)

    async def _other_sessions(self, visitor: Visitor) -> int:
        """How many live sessions the person holds besides this one (0 when the store does not
        answer: the page then makes no promise either way)."""
        engine = self._core.engine
        try:
            live = await self._core.guard.call(lambda: engine.reads.live_sessions(visitor.person))
        except StoreUnavailable:
            return 0
        return len([id_ for id_ in live if id_ != visitor.session_id])

    async def _release_everywhere(self, visitor: Visitor) -> None:
        """Signs the person out of every other session too, so their licence is free at once;
        each release is announced to every worker."""
        engine = self._core.engine
        try:
            live = await self._core.guard.call(lambda: engine.reads.live_sessions(visitor.person))
            for session_id in live:
                await self._core.guard.call(partial(engine.release, visitor.person, session_id))
        except StoreUnavailable as error:
            logger.warning("licence store unavailable at sign-out everywhere: %s", error)

    async def _me(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._method_not_allowed(request, "GET")
        visitor = await self._visitor(request)
        if visitor is None:
            return self._nobody(request)
        if isinstance(visitor, Response):
            return visitor
        session = visitor.session
        status = "none"
        if session is not None and session.heartbeat:
            status = "licensed"
        elif session is not None or self._waits(visitor.session_id):
            status = "waiting"
        licensed = session if status == "licensed" else None
        return JSONResponse(
            {
                "user": visitor.person,
                "licence": licensed.licence if licensed else None,
                "status": status,
                "groups": list(visitor.groups),
                "session_id": visitor.session_id,
                "expires_at": (
                    licensed.heartbeat + self.settings.idle_timeout if licensed else None
                ),
            },
            headers=pages.NO_STORE,
        )

    def _waits(self, session_id: str) -> bool:
        seen = self._core.memory.get(session_id)
        return seen is not None and seen.refusal is not None and bool(seen.refusal.position)

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok", headers=pages.NO_STORE)

    async def _ready(self, request: Request) -> Response:
        engine = self._core.engine
        try:
            # Asked even while the breaker is open: readiness is whether the store answers now.
            await self._core.guard.call(engine.ping, gated=False)
        except StoreUnavailable:
            return PlainTextResponse("unavailable", status_code=503, headers=pages.NO_STORE)
        return PlainTextResponse("ready", headers=pages.NO_STORE)

    async def _administration(self, request: Request) -> Response:
        """Hands an administrators' path to ``halo_gate.admin`` with who is asking: a bearer
        token is judged there; anyone else is identified here like on any own route."""
        navigation = pages.is_navigation(request.method, request.headers)
        login_url = self._urls.login_url(request)
        caller = admin.Caller(None, False, "", login_url, navigation)
        if admin.bearer(request.headers) is None:
            visitor = await self._visitor(request)
            if visitor is None:
                return self._nobody(request)
            if isinstance(visitor, Response):
                return visitor
            caller = admin.Caller(
                visitor.person,
                self._core.roles.is_admin(visitor.person, visitor.groups),
                self._core.csrf.token(visitor.session_id),
                login_url,
                navigation,
            )
        return await self._admin.handle(request, caller)

    def _method_not_allowed(self, request: Request, allowed: str) -> Response:
        response = pages.error(
            pages.wants_html(request.headers),
            405,
            "method_not_allowed",
            "Method not allowed",
            f"This page answers {allowed} only.",
            [("Home", "/")],
        )
        response.headers["Allow"] = allowed.replace(" and ", ", ")
        return response
