"""A Starlette app behind HaloGate.

Run from the repository root, configured by ``HALO_GATE_*`` variables::

    HALO_GATE_SECRET_KEY=... HALO_GATE_OIDC_ISSUER=https://idp.example \\
    HALO_GATE_OIDC_CLIENT_ID=... HALO_GATE_OIDC_CLIENT_SECRET=... \\
    uvicorn examples.starlette_app:app

Every request that reaches these routes comes from a signed-in person holding a licence:
``request.user`` says who, ``request.auth.scopes`` which licence.
"""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from halo_gate import HaloGate


@requires("authenticated")
async def home(request: Request) -> HTMLResponse:
    user = request.user
    kind = "a named seat" if "licence:named" in request.auth.scopes else "a concurrent slot"
    groups = ", ".join(user.groups) or "none"
    return HTMLResponse(
        "<!doctype html><html lang=en><meta name=viewport content='width=device-width'>"
        "<title>Signed in</title><main>"
        f"<h1>Hello, {escape(user.display_name)}</h1>"
        f"<p>You are signed in as <b>{escape(user.identity)}</b> and hold {kind}.</p>"
        f"<p>Groups: {escape(groups)}</p>"
        "<p><a href=/api/whoami>/api/whoami</a> · <a href=/_halo/logout>Sign out</a></p>"
        "</main></html>"
    )


@requires("authenticated")
async def whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "user": user.identity,
            "name": user.display_name,
            "licence": user.licence,
            "groups": list(user.groups),
        }
    )


application = Starlette(routes=[Route("/", home), Route("/api/whoami", whoami)])
app = HaloGate(application)
