"""``GET /_halo/auth`` in process: the answers nginx, Traefik and Caddy act on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from halo_gate.forward import ForwardAuth, create_app
from halo_gate.session import Session, new_session_id
from tests.gateway.conftest import SECRET

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
        await app.gate.aclose()


async def cookie_for(
    app: ForwardAuth, person: str, *groups: str, admit: bool = True, heartbeat: float | None = None
) -> str:
    gate = app.gate
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
    cookie = await cookie_for(app, "ann@example.com", heartbeat=app.gate.clock() - 61)
    response = await auth(app, cookie)
    assert response.status_code == 200
    assert response.headers["set-cookie"].startswith("halo_session=")


async def test_a_full_pool_is_403_with_the_reason_and_retry_after(make: Make) -> None:
    app = make()
    await cookie_for(app, "holder@example.com")
    stale = await cookie_for(app, "lost@example.com", admit=False, heartbeat=app.gate.clock() - 61)
    response = await auth(app, stale, **{"X-Original-Method": "POST"})
    assert response.status_code == 403
    assert response.headers["x-halo-reason"] == "pool_full"
    assert int(response.headers["retry-after"]) > 0


async def test_no_licence_is_403_with_its_reason(make: Make) -> None:
    app = make(concurrent_seats=0)
    stale = await cookie_for(app, "ann@example.com", admit=False, heartbeat=app.gate.clock() - 61)
    response = await auth(app, stale)
    assert response.status_code == 403
    assert response.headers["x-halo-reason"] == "no_licence"


async def test_traefik_headers_and_public_paths(make: Make) -> None:
    app = make()
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
    stale = await cookie_for(app, "lost@example.com", admit=False, heartbeat=app.gate.clock() - 61)
    full = await auth(app, stale, accept="text/html")
    assert full.status_code == 403
    assert full.headers["x-halo-reason"] == "pool_full"
    assert "The one concurrent licence is in use" in full.text  # a place in line
    assert 'url=/app/page"' in full.text  # it polls the original page


async def test_a_full_group_cap_is_403_with_its_reason_and_the_page(make: Make) -> None:
    app = make(concurrent_seats=5, pool_cap="finance=1")
    await app.gate.ensure_configured()
    assert (await app.gate.engine.admit("f1@example.com", "f1", groups=["finance"])).admitted
    stale = await cookie_for(
        app, "f2@example.com", "finance", admit=False, heartbeat=app.gate.clock() - 61
    )
    page = await auth(app, stale, accept="text/html")
    assert page.status_code == 403
    assert page.headers["x-halo-reason"] == "group_cap"
    # Waiting in line for one of Finance's slots (see the README's "Waiting room").
    assert "All of Finance's licences are in use" in page.text
    assert 'data-testid="position">1<' in page.text
    assert int(page.headers["retry-after"]) > 0
