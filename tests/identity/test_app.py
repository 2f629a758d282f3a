"""``HALO_GATE_IDENTITY=app``: the application's own login form names the person."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
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
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from halo_gate import LicensedUser
from halo_gate.identity import Person
from tests.identity.conftest import shower
from tests.support import sign_out

HTML = {"accept": "text/html"}


class SessionLogin(AuthenticationBackend):
    """The application's own login: a name kept in Starlette's session after the form."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = conn.session.get("user")
        if not name:
            return None
        return AuthCredentials(["authenticated", "app:staff"]), SimpleUser(name)


async def login_form(request: Request) -> Response:
    if request.method == "POST":
        form = dict(parse_qsl((await request.body()).decode()))
        request.session["user"] = form["name"]
        return RedirectResponse("/", status_code=303)
    return HTMLResponse('<form method="post"><input name="name"><button>Sign in</button></form>')


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@requires("authenticated", redirect="login_form")
async def home(request: Request) -> Response:
    licensed = request.scope["halo_gate.user"]
    assert isinstance(licensed, LicensedUser)
    return JSONResponse(
        {
            "own_user": request.user.username,
            "licensed": licensed.identity,
            "licence": licensed.licence,
            "scopes": sorted(request.auth.scopes),
        }
    )


def own_login_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login_form, methods=["GET", "POST"], name="login_form"),
            Route("/logout", logout),
        ]
    )


def with_own_login(gate: ASGIApp) -> ASGIApp:
    """The application's login middleware sits outside the gateway, as in a real app."""
    authenticated = AuthenticationMiddleware(gate, backend=SessionLogin())
    return SessionMiddleware(authenticated, secret_key="app-own-secret-0123456789")


async def sign_in(client: httpx.AsyncClient, url: str, name: str) -> httpx.Response:
    return await client.post(url + "/login", data={"name": name}, follow_redirects=True)


async def test_the_own_login_form_works_and_a_signed_in_person_needs_a_licence(
    gateway: Any,
) -> None:
    site = gateway(own_login_app(), wrap=with_own_login, identity="app", concurrent_seats=1)
    async with (
        httpx.AsyncClient(headers=HTML) as ann,
        httpx.AsyncClient(headers=HTML) as bob,
    ):
        # Not signed in: the request reaches the app untouched, and its own login answers.
        first = await ann.get(site.url + "/", follow_redirects=True)
        assert first.status_code == 200
        assert first.url.path == "/login"
        assert "<form" in first.text
        assert (await site.engine.usage()).in_use == 0

        home = await sign_in(ann, site.url, "Ann")
        assert home.status_code == 200, home.text
        assert home.json() == {
            "own_user": "Ann",
            "licensed": "ann",
            "licence": "concurrent",
            "scopes": ["app:staff", "authenticated", "licence:concurrent"],
        }
        assert (await site.engine.usage()).in_use == 1

        # The app's own form still works for bob, but the pool of one is ann's.
        full = await sign_in(bob, site.url, "Bob")
        assert full.status_code == 503
        assert "The one concurrent licence is in use" in full.text  # a place in line

        out = await sign_out(ann, site.url)
        assert out.status_code == 303
        assert (await site.engine.usage()).in_use == 0
        site.shift_clock(6)  # past the hold on bob's refusal
        assert (await bob.get(site.url + "/")).json()["licensed"] == "bob"


async def test_a_callable_names_the_person(gateway: Any) -> None:
    def from_api_key(scope: Scope) -> Person | None:
        for name, value in scope["headers"]:
            if name == b"x-api-key" and value == b"key-of-carol":
                return Person("carol@x.org", ("finance",))
        return None

    site = gateway(shower(), identity=from_api_key, concurrent_seats=1)
    async with httpx.AsyncClient(headers={"accept": "application/json"}) as client:
        anonymous = await client.get(site.url + "/")
        assert anonymous.status_code == 200
        assert anonymous.json()["user"] is None
        carol = await client.get(site.url + "/", headers={"x-api-key": "key-of-carol"})
        assert carol.json()["user"] == "carol@x.org"
        assert carol.json()["groups"] == ["finance"]
        assert "licence:concurrent" in carol.json()["scopes"]
    assert (await site.engine.usage()).in_use == 1
