"""A plain ASGI app, no framework, behind HaloGate.

Run from the repository root, configured by ``HALO_GATE_*`` variables::

    uvicorn examples.asgi_app:app

HaloGate hands the person on in the scope, as Starlette's authentication does: ``scope["user"]``
and ``scope["auth"].scopes``. A WebSocket at ``/ws`` is gated the same way before it is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from halo_gate import HaloGate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def who(scope: Scope) -> dict[str, Any]:
    user = scope["user"]
    return {"user": user.identity, "licence": user.licence, "groups": list(user.groups)}


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(who(scope))})
        await send({"type": "websocket.close", "code": 1000})
    else:
        body = json.dumps(who(scope)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


app = HaloGate(application)
