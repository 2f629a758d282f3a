"""Forward auth: the gateway on its own, for nginx ``auth_request``, Traefik ``ForwardAuth``
and Caddy ``forward_auth`` in front of an application in any language (``halo-gate serve``).

``GET /_halo/auth`` is asked about every request to the protected application. It replays the
original request (cookie, method, ``X-Original-URI`` / ``X-Forwarded-Uri``) through the same
``HaloGate`` every ASGI app gets, so the licence rules, heartbeats and cookie renewal are the
same, and turns the outcome into what the proxies understand (nginx passes on only 2xx, 401 and
403): 200 with ``X-Halo-User``, ``X-Halo-Licence``, ``X-Halo-Groups`` (and ``Set-Cookie`` when a
heartbeat renewed the cookie); 401 when nobody is signed in; 403 with ``X-Halo-Reason`` and
``Retry-After`` otherwise. On a 401 or 403 the proxy sends the original request to the gateway
itself, which answers it with the real page: the sign-in redirect, "all licences in use", or
"no licence".
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from . import pages
from .licensing import Decision
from .middleware import HaloGate

AUTH_REQUEST = "halo_gate.auth_request"
# Headers that carry the original request, and the identity the gateway answers with: never
# taken from the client as they are.
ORIGINAL = (b"x-original-uri", b"x-forwarded-uri", b"x-original-method", b"x-forwarded-method")
ANSWERED = (b"accept", b"x-halo-user", b"x-halo-licence", b"x-halo-groups")


def _header_value(value: str) -> str:
    # Identities may hold non-ASCII characters; header values are Latin-1, so escape those.
    return value if value.isascii() else quote(value, safe="@.,-_+ !~*'()")


async def licensed(scope: Scope, receive: Receive, send: Send) -> None:
    """The application behind the gateway in ``halo-gate serve``: reached only by requests the
    gateway let through, it states who was let in."""
    if scope["type"] == "lifespan":
        # Answered, so the gateway's own startup and shutdown (store connections) run.
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "websocket":
        # WebSockets go from the proxy to the application, never here.
        await send({"type": "websocket.close", "code": 1008})
        return
    user: Any = scope.get("user")
    headers: dict[str, str] = {}
    if user is not None and user.is_authenticated:
        headers = {
            "X-Halo-User": _header_value(user.display_name),
            "X-Halo-Licence": str(getattr(user, "licence", "")),
            "X-Halo-Groups": _header_value(",".join(getattr(user, "groups", ()))),
        }
    response: Response
    if scope.get(AUTH_REQUEST):
        response = Response(status_code=200, headers={**headers, **pages.NO_STORE})
    elif pages.wants_html(Headers(scope=scope)):
        # The proxy sent a refused request here and a licence came free meanwhile: the same
        # address, loaded again, now passes the proxy.
        response = HTMLResponse(
            "<!doctype html><title>Signed in</title><p>You hold a licence. "
            '<a href="">Continue</a></p>',
            headers=pages.NO_STORE,
        )
    else:
        user_name = headers.get("X-Halo-User")
        response = JSONResponse({"user": user_name, "licence": headers.get("X-Halo-Licence")})
    await response(scope, receive, send)


class ForwardAuth:
    """The ASGI app ``halo-gate serve`` runs: the gateway's routes plus ``GET /_halo/auth``."""

    def __init__(self, gate: HaloGate) -> None:
        self.gate = gate
        self.auth_path = gate.settings.path_prefix + "/auth"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.auth_path:
            await self._auth(scope, receive, send)
        else:
            await self.gate(scope, receive, send)

    def _original(self, scope: Scope) -> Scope:
        headers = Headers(scope=scope)
        uri = headers.get("x-original-uri") or headers.get("x-forwarded-uri") or "/"
        method = headers.get("x-original-method") or headers.get("x-forwarded-method") or "GET"
        parts = urlsplit(uri)
        raw_path = parts.path if parts.path.startswith("/") else "/"
        kept = [(k, v) for k, v in scope["headers"] if k not in ORIGINAL and k not in ANSWERED]
        # JSON answers name the refusal's reason; the proxy shows the pages afterwards.
        kept.append((b"accept", b"application/json"))
        return {
            **scope,
            "method": method.upper()[:16],
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1", "replace"),
            "query_string": parts.query.encode("latin-1", "replace"),
            "headers": kept,
            AUTH_REQUEST: True,
        }

    async def _auth(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await Response(status_code=405, headers={"Allow": "GET"})(scope, receive, send)
            return
        start: Message = {}
        body = bytearray()

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        original = self._original(scope)
        await self.gate(original, receive, keep)
        status = int(start.get("status", 500))
        replied = Headers(raw=list(start.get("headers", [])))
        headers = {"Cache-Control": "no-store"}
        cookie = replied.get("set-cookie")
        if cookie is not None:
            headers["Set-Cookie"] = cookie
        if status == 200:
            for name in ("x-halo-user", "x-halo-licence", "x-halo-groups"):
                if name in replied:
                    headers[name] = replied[name]
            await Response(status_code=200, headers=headers)(scope, receive, send)
            return
        # nginx shows its own page for these (the gateway answers the original request); Traefik
        # and Caddy hand this answer to the client, so its body is the page a browser needs.
        answer = self._refusal(scope, original, status, _json(bytes(body)))
        answer.headers.update(headers)
        if status not in (302, 401):
            answer.headers["X-Halo-Reason"] = _reason(_json(bytes(body)), status)
            if "retry-after" in replied:
                answer.headers["Retry-After"] = replied["retry-after"]
        await answer(scope, receive, send)

    def _refusal(
        self, scope: Scope, original: Scope, status: int, reply: dict[str, Any]
    ) -> Response:
        html = pages.wants_html(Headers(scope=scope))
        target = original["path"] + (
            "?" + original["query_string"].decode("latin-1") if original["query_string"] else ""
        )
        if status in (302, 401):
            login = f"{self.gate.login_path}?next={quote(target, safe='')}"
            if not html:
                return JSONResponse({"error": "login_required", "login_url": login}, 401)
            return HTMLResponse(
                f'<!doctype html><meta http-equiv="refresh" content="0; url={login}">'
                f'<title>Sign in</title><p><a href="{login}">Sign in</a></p>',
                401,
            )
        session = self.gate.codec.decode(self.gate.read_cookie(scope))
        if reply.get("position") and session is not None:
            # A place in line: the waiting page, polling the original address.
            response = pages.waiting(
                html,
                Decision(
                    outcome=reply["error"],
                    licence=None,
                    expires_at=0,
                    capacity=int(reply.get("capacity", 0)),
                    in_use=int(reply.get("in_use", 0)),
                    retry_after=int(reply.get("retry_after", 1)),
                    group=reply.get("group"),
                    position=int(reply["position"]),
                    estimated_wait=reply.get("estimated_wait"),
                ),
                poll=self.gate.settings.queue_poll,
                retry_url=target,
                leave_url=self.gate.logout_path,
                csrf_token=self.gate.routes.csrf_token(session),
                now=self.gate.clock(),
            )
        elif reply.get("error") in ("pool_full", "group_cap", "queue_full"):
            capped = reply["error"] == "group_cap"
            response = pages.pool_full(
                html,
                capacity=int(reply.get("capacity", 0)),
                in_use=int(reply.get("in_use", 0)),
                retry_after=int(reply.get("retry_after", 1)),
                retry_url=target,
                logout_url=self.gate.logout_path,
                now=self.gate.clock(),
                reason=str(reply["error"]),
                group=reply.get("group"),
                limit=int(reply["group_cap"]) if capped else None,
                held=int(reply["group_in_use"]) if capped else None,
            )
        elif reply.get("error") == "no_licence":
            response = pages.no_licence(
                html,
                "You have no named licence and no concurrent licence is available to you.",
                self.gate.logout_path,
            )
        else:
            response = pages.error(
                html,
                403,
                "refused",
                "Request refused",
                "The licence service did not let this request through. Please try again.",
                [("Try again", target)],
            )
        response.status_code = 403
        return response


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _reason(reply: dict[str, Any], status: int) -> str:
    reason = reply.get("error")
    return reason if isinstance(reason, str) and reason.isascii() else f"status_{status}"


def create_app(**overrides: Any) -> ForwardAuth:
    """The forward-auth service, configured like ``HaloGate`` (environment, then keywords)."""
    return ForwardAuth(HaloGate(licensed, **overrides))
