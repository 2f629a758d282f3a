"""The gateway's answers: the page for a request it does not let through (the sign-in redirect,
the waiting room, "all licences in use", "no licence", "licence store unavailable"), and the
session cookie set or cleared on any answer."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Message, Send

from . import pages
from .identity.flow import refusal as identity_refusal
from .paths import request_target
from .verdict import Gate

if TYPE_CHECKING:
    from .middleware import HaloGate


class Answers:
    """Turns a refusing ``Gate`` into the page (HTML or JSON by ``Accept``) that says why, and
    puts the session cookie on answers."""

    def __init__(self, gate: HaloGate) -> None:
        self.gate = gate
        self.settings = gate.settings

    def refusal(self, conn: HTTPConnection, gate: Gate) -> Response:
        if gate.verdict in ("unidentified", "bad_identity"):
            return identity_refusal(conn, gate)
        html = pages.wants_html(conn.headers)
        if gate.verdict == "login":
            navigation = pages.is_navigation(conn.scope["method"], conn.headers)
            if navigation and gate.decision and gate.decision.reason in ("admin", "unassigned"):
                return pages.ended_by_admin(self.login_url(conn))
            return pages.login_required(navigation, self.login_url(conn))
        if gate.verdict == "store_down":
            return pages.store_unavailable(html, retry_url=_retry_url(conn))
        decision = gate.decision
        assert decision is not None
        gateway = self.gate
        # A session whose idle slot went to a colleague is told so (HALO_GATE_HARVEST_IDLE).
        harvested_after = self.settings.harvest_idle if decision.reason == "harvested" else 0
        if gate.verdict == "pool_full" and decision.position and gate.session is not None:
            return pages.waiting(
                html,
                decision,
                poll=gateway.settings.queue_poll,
                retry_url=_retry_url(conn),
                leave_url=gateway.logout_path,
                csrf_token=gateway.routes.csrf_token(gate.session),
                now=gateway.clock(),
                harvested_after=harvested_after,
            )
        if gate.verdict == "pool_full":
            return pages.pool_full(
                html,
                capacity=decision.capacity,
                in_use=decision.in_use,
                retry_after=decision.retry_after,
                retry_url=_retry_url(conn),
                logout_url=gateway.logout_path,
                now=gateway.clock(),
                harvested_after=harvested_after,
                **pages.refusal_details(decision),
            )
        return pages.no_licence(
            html,
            "You have no named licence and no concurrent licence is available to you.",
            gateway.logout_path,
        )

    def login_url(self, conn: HTTPConnection) -> str:
        target = conn.scope["path"]
        if conn.scope.get("query_string"):
            target += "?" + conn.scope["query_string"].decode("latin-1")
        return f"{self.gate.login_path}?next={quote(target, safe='')}"

    def set_cookie(self, response: Response, value: str) -> None:
        """Sets the session cookie to ``value`` on ``response``; ``""`` clears it."""
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


def _retry_url(conn: HTTPConnection) -> str:
    return request_target(conn.scope["path"], conn.scope.get("query_string", b""))
