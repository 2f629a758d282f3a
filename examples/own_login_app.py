"""A Starlette app with its own login form, licensed by HaloGate (``HALO_GATE_IDENTITY=app``).

Run from the repository root::

    HALO_GATE_SECRET_KEY=change-me-0123456789 HALO_GATE_COOKIE_SECURE=false \\
    uvicorn examples.own_login_app:app

The app signs people in itself (here any name, with no password: a real app checks one) and
Starlette's ``AuthenticationMiddleware`` puts the person in ``scope["user"]``. HaloGate, inside
it, lets the login form through untouched and makes every signed-in person hold a licence.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    requires,
)
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from halo_gate import HaloGate, LicensedUser


class SessionLogin(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = conn.session.get("user")
        if not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


async def login(request: Request) -> Response:
    if request.method == "POST":
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("name", "").strip():
            request.session["user"] = form["name"].strip()
            return RedirectResponse("/", status_code=303)
    return HTMLResponse(
        "<!doctype html><title>Sign in</title><form method=post>"
        "<label>Name <input name=name autofocus></label> <button>Sign in</button></form>"
    )


async def logout(request: Request) -> Response:
    # Reached after the gateway's sign-out released the licence (HALO_GATE_LOGOUT_URL).
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@requires("authenticated", redirect="login")
async def home(request: Request) -> HTMLResponse:
    licensed = request.scope["halo_gate.user"]
    assert isinstance(licensed, LicensedUser)
    kind = "a named seat" if licensed.licence == "named" else "a concurrent slot"
    return HTMLResponse(
        f"<!doctype html><title>Home</title><h1>Hello, {escape(request.user.display_name)}</h1>"
        f"<p>You hold {kind}.</p><p><a href=/_halo/logout>Sign out</a></p>"
    )


application = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout),
    ]
)
# /logout is public: it runs after the licence was released, while the app still names the
# person, and must not take a licence again.
licensed = HaloGate(application, identity="app", logout_url="/logout", public_paths="/logout")
app = SessionMiddleware(
    AuthenticationMiddleware(licensed, backend=SessionLogin()),
    secret_key="change-me: the app's own session key",
)
