"""``GET /_halo/auth`` in process: the answers nginx, Traefik and Caddy act on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from halo_gate.cli.serve import create_app
from halo_gate.gateway.forward import ForwardAuth
from halo_gate.session import Session, new_session_id
from tests.gateway.conftest import SECRET
from tests.support import gate_of

Make = Callable[..., ForwardAuth]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    made: list[ForwardAuth] = []

    def factory(**overrides: Any) -> ForwardAuth:
        settings: dict[str, Any] = {
            "secret_key": SECRET,
            "oidc_issuer": "http://127.0.0.1:9",
            "oidc_client_id": "client",
            "oidc_client_secret": "secret",
            "redis_url": None,
            "cookie_secure": False,
            "public_paths": "/assets",
            "concurrent_seats": 1,
            **overrides,
        }
        made.append(create_app(**settings))
        return made[-1]

    yield factory
    for app in made:
        await gate_of(app).aclose()


async def cookie_for(
    app: ForwardAuth, person: str, *groups: str, admit: bool = True, heartbeat: float | None = None
) -> str:
    gate = gate_of(app)
    session_id = new_session_id()
    if admit:
        await gate.ensure_configured()
        assert (await gate.engine.admit(person, session_id)).admitted
    when = gate.clock() if heartbeat is None else heartbeat
    return gate.codec.encode(Session(session_id, person, "concurrent", int(when), groups))


async def auth(app: ForwardAuth, cookie: str | None = None, **headers: str) -> httpx.Response:
    cookies = {"halo_session": cookie} if cookie else None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gate.test", cookies=cookies
    ) as http:
        return await http.get("/_halo/auth", headers={"X-Original-URI": "/app/page", **headers})


async def test_nobody_signed_in_is_401(make: Make) -> None:
    response = await auth(make(), accept="text/html")
    assert response.status_code == 401
    assert "x-halo-user" not in response.headers


async def test_a_licensed_person_is_200_with_the_identity_headers(make: Make) -> None:
    app = make()
    cookie = await cookie_for(app, "ann@example.com", "hr", "ops")
    # Headers a client sent itself never come back as the answer.
    response = await auth(app, cookie, **{"X-Halo-User": "boss@example.com"})
    assert response.status_code == 200
    assert response.headers["x-halo-user"] == "ann@example.com"
    assert response.headers["x-halo-licence"] == "concurrent"
    assert response.headers["x-halo-groups"] == "hr,ops"
    assert "set-cookie" not in response.headers  # between heartbeats: nothing renewed


async def test_a_due_heartbeat_renews_the_cookie_in_the_answer(make: Make) -> None:
    app = make()
    cookie = await cookie_for(app, "ann@example.com", heartbeat=gate_of(app).clock() - 61)
    response = await auth(app, cookie)
    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("halo_session=")


async def test_a_full_pool_is_403_with_the_reason_and_retry_after(make: Make) -> None:
    app = make()
    await cookie_for(app, "holder@example.com")
    stale = await cookie_for(
        app, "lost@example.com", admit=False, heartbeat=gate_of(app).clock() - 61
    )
    response = await auth(app, stale, **{"X-Original-Method": "POST"})
    assert response.status_code == 403
    assert response.headers["x-halo-reason"] == "pool_full"
    assert int(response.headers["retry-after"]) > 0


async def test_no_licence_is_403_with_its_reason(make: Make) -> None:
    app = make(concurrent_seats=0)
    stale = await cookie_for(
        app, "ann@example.com", admit=False, heartbeat=gate_of(app).clock() - 61
    )
    response = await auth(app, stale)
    assert response.status_code == 403
    assert response.headers["x-halo-reason"] == "no_licence"


async def test_traefik_headers_and_public_paths(make: Make) -> None:
    app = make(auth_proxy="traefik")
    cookie = await cookie_for(app, "ann@example.com")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as http:
        public = await http.get(
            "/_halo/auth",
            headers={"X-Forwarded-Uri": "/assets/app.css", "X-Forwarded-Method": "GET"},
        )
        assert public.status_code == 200
        assert "x-halo-user" not in public.headers
        private = await http.get("/_halo/auth", headers={"X-Forwarded-Uri": "/reports?y=1"})
        assert private.status_code == 401
        http.cookies.set("halo_session", cookie)
        signed_in = await http.get("/_halo/auth", headers={"X-Forwarded-Uri": "/reports?y=1"})
        assert signed_in.headers["x-halo-user"] == "ann@example.com"
        posted = await http.post("/_halo/auth")
        assert posted.status_code == 405


async def test_refusals_carry_the_page_for_proxies_that_show_the_answer(make: Make) -> None:
    # Traefik and Caddy return the refusal itself to the browser, so it must be the page.
    app = make()
    login = await auth(app, accept="text/html", **{"X-Original-URI": "/app?x=1"})
    assert login.status_code == 401
    assert 'content="0; url=/_halo/login?next=%2Fapp%3Fx%3D1"' in login.text
    api = await auth(app, accept="application/json")
    assert api.json() == {"error": "login_required", "login_url": "/_halo/login?next=%2Fapp%2Fpage"}

    await cookie_for(app, "holder@example.com")
    stale = await cookie_for(
        app, "lost@example.com", admit=False, heartbeat=gate_of(app).clock() - 61
    )
    full = await auth(app, stale, accept="text/html")
    assert full.status_code == 403
    assert full.headers["x-halo-reason"] == "pool_full"
    assert "The one concurrent licence is in use" in full.text  # a place in line
    assert 'url=/app/page"' in full.text  # it polls the original page


async def test_a_full_group_cap_is_403_with_its_reason_and_the_page(make: Make) -> None:
    app = make(concurrent_seats=5, pool_cap="finance=1")
    await gate_of(app).ensure_configured()
    assert (await gate_of(app).engine.admit("f1@example.com", "f1", groups=["finance"])).admitted
    stale = await cookie_for(
        app, "f2@example.com", "finance", admit=False, heartbeat=gate_of(app).clock() - 61
    )
    page = await auth(app, stale, accept="text/html")
    assert page.status_code == 403
    assert page.headers["x-halo-reason"] == "group_cap"
    # Waiting in line for one of Finance's slots (see the README's "Waiting room").
    assert "All of Finance's licences are in use" in page.text
    assert 'data-testid="position">1<' in page.text
    assert int(page.headers["retry-after"]) > 0


async def test_the_original_request_is_taken_only_from_the_proxys_own_headers(make: Make) -> None:
    # Traefik and Caddy set X-Forwarded-Uri/-Method and pass the client's other headers on: a
    # client's own X-Original-URI naming a public or own path must not be believed.
    for proxy in ("traefik", "caddy"):
        app = make(auth_proxy=proxy)
        forged = {
            "X-Forwarded-Uri": "/admin/everything",
            "X-Forwarded-Method": "DELETE",
            "X-Original-URI": "/_halo/health",
            "X-Original-Method": "GET",
        }
        assert (await auth(app, **forged)).status_code == 401
        forged["X-Original-URI"] = "/assets/app.css"
        assert (await auth(app, **forged)).status_code == 401
    # nginx overwrites X-Original-URI; a client's X-Forwarded-Uri is ignored there.
    app = make()
    forged = {"X-Original-URI": "/admin/everything", "X-Forwarded-Uri": "/assets/app.css"}
    assert (await auth(app, **forged)).status_code == 401


async def test_a_request_the_proxy_did_not_describe_is_refused(make: Make) -> None:
    app = make(auth_proxy="traefik")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as http:
        response = await http.get("/_halo/auth", headers={"X-Original-URI": "/assets/x.css"})
    assert response.status_code == 403
    assert response.headers["x-halo-reason"] == "no_original_request"


async def test_the_gateways_own_routes_are_never_replayed_as_the_original(make: Make) -> None:
    app = make()
    for uri in ("/_halo/health", "/_halo/me", "/_halo/auth", "/_halo/..;/app", "/_halo/%2e%2e/x"):
        response = await auth(app, **{"X-Original-URI": uri})
        assert response.status_code == 403
        assert response.headers["x-halo-reason"] == "own_route"


async def test_a_path_starting_with_two_slashes_is_judged_as_in_the_middleware(
    make: Make,
) -> None:
    # urlsplit("//admin/pub/x") takes "admin" for a host and leaves "/pub/x", a public path.
    app = make(public_paths="/pub")
    for uri in ("//admin/pub/x", "/pub/..;/admin", "/pub/%2e%2e/admin"):
        response = await auth(app, accept="application/json", **{"X-Original-URI": uri})
        assert response.status_code in (401, 403), uri
    refused = await auth(app, **{"X-Original-URI": "//evil.test/"})
    assert refused.headers["x-halo-reason"] == "bad_path"
    assert (await auth(app, **{"X-Original-URI": "/pub/x"})).status_code == 200


async def test_only_the_trusted_proxies_may_ask(make: Make) -> None:
    app = make(trusted_proxies="10.9.9.0/24")
    cookie = await cookie_for(app, "ann@example.com")
    response = await auth(app, cookie)  # the test transport's peer is 127.0.0.1
    assert response.status_code == 403
    assert response.headers["x-halo-reason"] == "untrusted_peer"
    trusted = make(trusted_proxies="127.0.0.0/8")
    cookie = await cookie_for(trusted, "bob@example.com")
    assert (await auth(trusted, cookie)).status_code == 200


async def test_a_websocket_from_another_origin_is_refused(make: Make) -> None:
    app = make()
    cookie = await cookie_for(app, "ann@example.com")
    upgrade = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "X-Original-URI": "/ws"}
    evil = await auth(app, cookie, Origin="https://sub.gate.test", **upgrade)
    assert evil.status_code == 403
    assert evil.headers["x-halo-reason"] == "cross_origin"
    own = await auth(app, cookie, Origin="http://gate.test", **upgrade)
    assert own.status_code == 200
    assert own.headers["x-halo-user"] == "ann@example.com"


async def test_refresh_and_retry_links_never_leave_the_site(make: Make) -> None:
    app = make(auth_proxy="traefik")
    await cookie_for(app, "holder@example.com")
    stale = await cookie_for(
        app, "lost@example.com", admit=False, heartbeat=gate_of(app).clock() - 61
    )
    for uri in ("/%2F%2Fevil.test/", "/%5C%5Cevil.test/", "/x/..%2F%2Fevil.test"):
        page = await auth(
            app, stale, accept="text/html", **{"X-Forwarded-Uri": uri, "X-Forwarded-Method": "GET"}
        )
        assert page.status_code == 403, uri
        for link in re.findall(r'(?:href="|url=)([^"]*)"', page.text):
            assert urlsplit(urljoin("https://gate.test/a/b", unescape(link))).netloc == "gate.test"
            assert not link.startswith(("//", "/\\")), (uri, link)
