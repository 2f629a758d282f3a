"""Answering a decision: handing the request on to the application, or the one renderer of
every refusal (the sign-in redirect, the waiting room, "all licences in use", "no licence",
"licence store unavailable", an identity refused) as HTML or JSON, a WebSocket close code, or
forward auth's answer; and the session cookie set or cleared on any answer.

Every URL a refusal carries comes from ``Urls`` (a local path, never a way off the site).
"""

from __future__ import annotations

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import pages
from ..licensing import Decision
from ..session import Session
from .core import Core
from .verdict import Gate, LicensedUser

WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
NOT_ADMITTED = ("login", "no_licence", "unidentified", "bad_identity", "bad_path")
NO_LICENCE_TEXT = "You have no named licence and no concurrent licence is available to you."


def hand_on(scope: Scope, session: Session | None, *, verified: bool = True) -> None:
    """Starlette's conventions for the application: ``scope["user"]`` and ``scope["auth"]``."""
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
        name=session.name,
    )
    scopes = ["authenticated", f"licence:{session.licence}"]
    scope["auth"] = AuthCredentials(scopes if verified else [*scopes, "unverified"])


class Answerer:
    def __init__(self, core: Core) -> None:
        settings = core.settings
        self.urls = core.urls
        self._csrf = core.csrf
        self._clock = core.clock
        self._queue_poll = settings.queue_poll
        self._harvest_idle = settings.harvest_idle
        self._cookie_name = settings.cookie_name
        self._cookie_secure = settings.cookie_secure
        self._cookie_max_age = settings.session_max_age

    async def __call__(
        self, gate: Gate, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answers ``gate``: the application for a pass, else the refusal."""
        if gate.verdict == "pass":
            hand_on(scope, gate.session, verified=gate.verified)
            if gate.cookie is not None:
                send = self.with_cookie(send, gate.cookie)
            await app(scope, receive, send)
        elif gate.verdict == "anonymous":
            await app(scope, receive, send)
        elif scope["type"] == "websocket":
            code = WS_POLICY_VIOLATION if gate.verdict in NOT_ADMITTED else WS_TRY_AGAIN_LATER
            await send({"type": "websocket.close", "code": code})
        else:
            response = self.refusal(HTTPConnection(scope), gate)
            if gate.cookie is not None:
                self.set_cookie(response, gate.cookie)
            await response(scope, receive, send)

    def refusal(self, conn: HTTPConnection, gate: Gate) -> Response:
        """The page (HTML or JSON by ``Accept``) saying why ``gate`` refused the request."""
        html = pages.wants_html(conn.headers)
        urls = self.urls
        verdict = gate.verdict
        if verdict == "login":
            navigation = pages.is_navigation(conn.scope["method"], conn.headers)
            if navigation and gate.decision and gate.decision.reason in ("admin", "unassigned"):
                return pages.ended_by_admin(urls.login_url(conn))
            return pages.login_required(navigation, urls.login_url(conn))
        if verdict == "unidentified":
            return pages.not_signed_in(html, urls.retry_url(conn))
        if verdict == "bad_identity":
            return pages.error(
                html,
                400,
                "bad_identity",
                "Sign-in not accepted",
                "The identity this request carries cannot be accepted.",
                [("Home", "/")],
            )
        if verdict == "bad_path":
            return pages.error(
                html, 400, "bad_path", "Bad address", "This address is not valid.", [("Home", "/")]
            )
        if verdict == "store_down":
            return pages.store_unavailable(html, retry_url=urls.retry_url(conn))
        decision = gate.decision
        if verdict == "pool_full" and decision is not None:
            if decision.position and gate.session is not None:
                return pages.waiting(
                    html,
                    decision,
                    poll=self._queue_poll,
                    retry_url=urls.retry_url(conn),
                    leave_url=urls.logout,
                    csrf_token=self._csrf.token(gate.session.session_id),
                    now=self._clock(),
                    harvested_after=self._harvested_after(decision),
                )
            return self.pool_full(html, gate, retry_url=urls.retry_url(conn))
        return pages.no_licence(html, NO_LICENCE_TEXT, urls.logout)

    def pool_full(self, html: bool, gate: Gate, *, retry_url: str) -> Response:
        """ "All licences in use", retrying ``retry_url``."""
        decision = gate.decision
        assert decision is not None
        return pages.pool_full(
            html,
            capacity=decision.capacity,
            in_use=decision.in_use,
            retry_after=decision.retry_after,
            retry_url=retry_url,
            logout_url=self.urls.logout,
            now=self._clock(),
            harvested_after=self._harvested_after(decision),
            **pages.refusal_details(decision),
        )

    def _harvested_after(self, decision: Decision) -> int:
        """For a session whose idle slot went to a colleague: the threshold it idled past."""
        return self._harvest_idle if decision.reason == "harvested" else 0

    def forward(self, conn: HTTPConnection, gate: Gate) -> Response:
        """``gate`` as forward auth answers it (nginx passes on only 2xx, 401 and 403): 401 for
        nobody signed in, else 403 with ``X-Halo-Reason``. The body is the page a browser needs,
        which Traefik and Caddy hand to the client as it is."""
        if gate.verdict in ("login", "unidentified", "anonymous"):
            login = self.urls.login_url(conn)
            if pages.wants_html(conn.headers):
                response: Response = pages.sign_in(login)
            else:
                body = {"error": "login_required", "login_url": login}
                response = JSONResponse(body, 401, pages.NO_STORE)
        else:
            response = self.refusal(conn, gate)
            response.headers["X-Halo-Reason"] = gate.reason
        response.status_code = (
            401 if gate.verdict in ("login", "unidentified", "anonymous") else 403
        )
        if gate.cookie is not None:
            self.set_cookie(response, gate.cookie)
        return response

    # The session cookie

    def set_cookie(self, response: Response, value: str) -> None:
        """Sets the session cookie to ``value`` on ``response``; ``""`` clears it."""
        if value:
            response.set_cookie(
                self._cookie_name,
                value,
                max_age=self._cookie_max_age,
                path="/",
                secure=self._cookie_secure,
                httponly=True,
                samesite="lax",
            )
        else:
            response.delete_cookie(
                self._cookie_name,
                path="/",
                secure=self._cookie_secure,
                httponly=True,
                samesite="lax",
            )

    def cookie_header(self, value: str) -> str:
        """The ``Set-Cookie`` header value ``set_cookie`` would add."""
        response = Response()
        self.set_cookie(response, value)
        return response.headers["set-cookie"]

    def with_cookie(self, send: Send, value: str) -> Send:
        """``send``, adding the cookie to the response's (or WebSocket accept's) headers."""
        header = self.cookie_header(value)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message.setdefault("headers", [])
                MutableHeaders(scope=message).append("set-cookie", header)
            await send(message)

        return send_with_cookie
