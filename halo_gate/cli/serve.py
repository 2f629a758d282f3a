"""``halo-gate serve``: the gateway on its own, for forward auth (see
``halo_gate.gateway.forward``), in front of ``licensed``, the application that states who was
let in."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .. import pages
from ..gateway.entry import HaloGate
from ..gateway.forward import ForwardAuth, header_value


async def licensed(scope: Scope, receive: Receive, send: Send) -> None:
    """The application behind the gateway in ``halo-gate serve``. The proxy sends a request
    here only after forward auth refused it (nginx's ``error_page``); when a licence came free
    meanwhile the gateway lets it through, and the same address, loaded again, passes the
    proxy."""
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
    response: Response
    if pages.wants_html(Headers(scope=scope)):
        response = HTMLResponse(
            "<!doctype html><title>Signed in</title><p>You hold a licence. "
            '<a href="">Continue</a></p>',
            headers=pages.NO_STORE,
        )
    else:
        signed_in = user is not None and user.is_authenticated
        response = JSONResponse(
            {
                "user": header_value(user.display_name) if signed_in else None,
                "licence": getattr(user, "licence", None) if signed_in else None,
            },
            headers=pages.NO_STORE,
        )
    await response(scope, receive, send)


def create_app(**overrides: Any) -> ForwardAuth:
    """The forward-auth service, configured like ``HaloGate`` (environment, then keywords)."""
    gate = HaloGate(licensed, **overrides)
    return ForwardAuth(gate.settings, gate.pipeline, gate.answer, gate.core.urls, gate)
