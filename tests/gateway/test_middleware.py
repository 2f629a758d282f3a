"""The middleware in-process: outcomes by request kind, routes, CSRF, WebSockets, lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from halo_gate import HaloGate
from halo_gate.gateway.paths import local_path
from halo_gate.session import Session, new_session_id
from tests.gateway.conftest import SECRET, make_app

BASE = "http://gate.test"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"accept": "application/json"}


def build(**overrides: Any) -> HaloGate:
    settings: dict[str, Any] = {
        "secret_key": SECRET,
        "oidc_issuer": "http://127.0.0.1:9",  # nothing listens: login cannot reach the IdP
        "oidc_client_id": "client",
        "oidc_client_secret": "secret",
        "redis_url": None,
        "cookie_secure": False,
        "public_paths": "/public",
        "passive_paths": "/poll",
        "concurrent_seats": 2,
        **overrides,
    }
    return HaloGate(make_app(), **settings)


Make = Callable[..., HaloGate]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    gates: list[HaloGate] = []

    def factory(**overrides: Any) -> HaloGate:
        gates.append(build(**overrides))
        return gates[-1]

    yield factory
    for gate in gates:
        await gate.aclose()


def client(gate: HaloGate, cookie: str | None = None) -> httpx.AsyncClient:
    cookies = {"halo_session": cookie} if cookie else None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gate), base_url=BASE, cookies=cookies
    )


async def signed_in(
    gate: HaloGate, person: str, *groups: str, admit: bool = True, heartbeat: float | None = None
) -> str:
    """A session cookie for ``person``, admitted through the engine unless ``admit`` is False."""
    session_id = new_session_id()
    licence: Any = "concurrent"
    if admit:
        await gate.ensure_configured()
        decision = await gate.engine.admit(person, session_id)
        assert decision.admitted
        licence = decision.licence
    when = gate.clock() if heartbeat is None else heartbeat
    return gate.codec.encode(Session(session_id, person, licence, int(when), groups))


async def test_not_signed_in_browsers_are_redirected_and_others_get_401(make: Make) -> None:
    gate = make()
    async with client(gate) as http:
        page = await http.get("/reports?year=2026", headers=HTML)
        assert page.status_code == 302
        assert page.headers["location"] == "/_halo/login?next=%2Freports%3Fyear%3D2026"
        head = await http.head("/", headers=HTML)
        assert head.status_code == 302
        for method, headers in (("GET", JSON), ("GET", {"accept": "*/*"}), ("POST", HTML)):
            api = await http.request(method, "/reports", headers=headers)
            assert api.status_code == 401
            assert api.json() == {
                "error": "login_required",
                "login_url": "/_halo/login?next=%2Freports",
            }


async def test_admitted_people_reach_the_app_with_user_and_auth(make: Make) -> None:
    gate = make()
    cookie = await signed_in(gate, "ann@example.com", "agents")
    async with client(gate, cookie) as http:
        response = await http.get("/whoami")
    assert response.json() == {
        "user": "ann@example.com",
        "licence": "concurrent",
        "groups": ["agents"],
        "scopes": ["authenticated", "licence:concurrent"],
    }


async def test_public_paths_pass_without_a_session(make: Make) -> None:
    gate = make(concurrent_seats=0)
    async with client(gate) as http:
        response = await http.get("/public/info", headers=HTML)
    assert response.status_code == 200
    assert response.text == "page for "


async def test_pool_full_at_a_heartbeat_is_503_with_retry_after(make: Make) -> None:
    gate = make(concurrent_seats=1)
    await signed_in(gate, "holder@example.com")
    # A session whose slot was lost (never admitted here) heartbeats while the pool is full.
    stale = await signed_in(gate, "lost@example.com", admit=False, heartbeat=gate.clock() - 61)
    async with client(gate, stale) as http:
        api = await http.get("/whoami", headers=JSON)
        page = await http.get("/", headers=HTML)
    assert api.status_code == 503
    assert api.json()["error"] == "pool_full"
    assert api.json()["capacity"] == 1
    assert int(api.headers["retry-after"]) == api.json()["retry_after"] > 0
    assert page.status_code == 503
    assert "The one concurrent licence is in use" in page.text  # waiting in line
    assert api.json()["position"] == 1


async def test_a_lost_slot_is_readmitted_silently_when_one_is_free(make: Make) -> None:
    gate = make(concurrent_seats=1)
    stale = await signed_in(gate, "lost@example.com", admit=False, heartbeat=gate.clock() - 61)
    async with client(gate, stale) as http:
        response = await http.get("/whoami")
    assert response.status_code == 200
    assert "halo_session=" in response.headers["set-cookie"]
    assert (await gate.engine.usage()).in_use == 1


async def test_no_licence_is_403(make: Make) -> None:
    gate = make(concurrent_seats=0)
    stale = await signed_in(gate, "nobody@example.com", admit=False, heartbeat=gate.clock() - 61)
    async with client(gate, stale) as http:
        api = await http.get("/whoami", headers=JSON)
        page = await http.get("/", headers=HTML)
    assert (api.status_code, api.json()) == (
        403,
        {"error": "no_licence", "reason": "no_licence", "group": None},
    )
    assert page.status_code == 403
    assert "No licence" in page.text


async def test_a_refused_cookie_replayed_costs_one_store_call_per_hold(make: Make) -> None:
    gate = make(concurrent_seats=0)
    stale = await signed_in(gate, "nobody@example.com", admit=False, heartbeat=gate.clock() - 61)
    calls = 0
    heartbeat = gate.engine.heartbeat

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await heartbeat(*args, **kwargs)

    gate.engine.heartbeat = counting  # type: ignore[method-assign]
    async with client(gate, stale) as http:
        for _ in range(10):
            assert (await http.get("/", headers=JSON)).status_code == 403
        assert calls == 1
        gate.engine.clock_offset += 6
        assert (await http.get("/", headers=JSON)).status_code == 403
        assert calls == 2


async def test_me_health_and_ready(make: Make) -> None:
    gate = make()
    cookie = await signed_in(gate, "me@example.com", "agents")
    async with client(gate, cookie) as http:
        me = await http.get("/_halo/me")
        assert (await http.get("/_halo/health")).text == "ok"
        assert (await http.get("/_halo/ready")).status_code == 200
        assert (await http.get("/_halo/nothing", headers=JSON)).status_code == 404
    body = me.json()
    assert set(body) == {"user", "licence", "status", "groups", "session_id", "expires_at"}
    assert body["status"] == "licensed"
    assert (body["user"], body["licence"], body["groups"]) == (
        "me@example.com",
        "concurrent",
        ["agents"],
    )
    assert body["expires_at"] > gate.clock()
    async with client(gate) as http:
        assert (await http.get("/_halo/me", headers=JSON)).status_code == 401


async def test_usage_is_for_administrators_only(make: Make) -> None:
    gate = make(admins="Boss@Example.com", admin_groups="ops", concurrent_seats=3)
    boss = await signed_in(gate, "boss@example.com")
    operator = await signed_in(gate, "op@example.com", "ops")
    other = await signed_in(gate, "other@example.com", "agents")
    for cookie in (boss, operator):
        async with client(gate, cookie) as http:
            usage = await http.get("/_halo/api/usage")
        assert usage.status_code == 200
        body = usage.json()
        assert {"seats", "assigned", "active"} <= set(body["named"])
        assert {"seats", "in_use", "peak_24h", "denials_24h"} <= set(body["concurrent"])
        assert body["concurrent"]["seats"] == 3
    async with client(gate, other) as http:
        assert (await http.get("/_halo/api/usage", headers=JSON)).status_code == 403
    async with client(gate) as http:
        assert (await http.get("/_halo/api/usage", headers=HTML)).status_code == 302


async def test_state_changing_requests_need_our_origin_and_the_csrf_token(make: Make) -> None:
    gate = make()
    cookie = await signed_in(gate, "csrf@example.com")
    async with client(gate, cookie) as http:
        page = await http.get("/_halo/logout", headers=HTML)
        assert 'name="csrf_token"' in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        for headers in (
            {},
            {"origin": "https://evil.example"},
            {"referer": "https://evil.example/x"},
        ):
            refused = await http.post("/_halo/logout", data={"csrf_token": token}, headers=headers)
            assert refused.status_code == 403
        wrong = await http.post(
            "/_halo/logout", data={"csrf_token": "forged"}, headers={"origin": BASE}
        )
        assert wrong.status_code == 403
        assert (await gate.engine.usage()).in_use == 1
        done = await http.post(
            "/_halo/logout", data={"csrf_token": token}, headers={"referer": BASE + "/_halo/logout"}
        )
        assert done.status_code == 303
        # The IdP is unreachable, so there is no RP-initiated logout: home it is.
        assert done.headers["location"] == "/"
        assert 'halo_session=""' in done.headers["set-cookie"]
    assert (await gate.engine.usage()).in_use == 0


async def test_an_unreachable_idp_is_a_clear_page_not_a_500(make: Make) -> None:
    gate = make()
    async with client(gate) as http:
        response = await http.get("/_halo/login?next=/x", headers=HTML)
    assert response.status_code == 502
    assert "could not be reached" in response.text


def test_websockets_close_1008_without_a_session_and_1013_when_the_pool_is_full() -> None:
    gate = build(concurrent_seats=1)
    past = gate.clock() - 61
    first = gate.codec.encode(Session(new_session_id(), "one@example.com", "concurrent", int(past)))
    second = gate.codec.encode(
        Session(new_session_id(), "two@example.com", "concurrent", int(past))
    )
    with TestClient(gate) as http:
        with pytest.raises(WebSocketDisconnect) as closed, http.websocket_connect("/ws"):
            pass
        assert closed.value.code == 1008
        http.cookies.set("halo_session", first)
        with http.websocket_connect("/ws") as websocket:
            assert websocket.receive_text() == "hello one@example.com"
        http.cookies.set("halo_session", second)
        with pytest.raises(WebSocketDisconnect) as closed, http.websocket_connect("/ws"):
            pass
        assert closed.value.code == 1013


def test_lifespan_passes_through_and_configures_the_store() -> None:
    events: list[str] = []
    app = make_app()

    async def with_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        await app(scope, receive, send)

    gate = HaloGate(
        with_lifespan,
        secret_key=SECRET,
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="c",
        oidc_client_secret="s",
        concurrent_seats=3,
    )
    with TestClient(gate):
        assert gate.core.configuration.done
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_the_embedded_store_is_announced_at_startup(caplog: pytest.LogCaptureFixture) -> None:
    build()
    assert "HALO_GATE_REDIS_URL is not set" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/reports?x=1#top", "/reports?x=1#top"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("http:evil.example", "/"),
        ("evil.example/x", "/"),
        ("/\t/evil.example", "/"),
        ("/%0a/evil.example", "/%0a/evil.example"),
        ("/path\\with", "/"),
    ],
)
def test_local_path_keeps_only_paths_on_this_site(value: str | None, expected: str) -> None:
    assert local_path(value) == expected


def test_a_starlette_app_can_use_requires_unchanged() -> None:
    from starlette.authentication import requires
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    @requires(["authenticated", "licence:named"])
    async def named_only(request: Request) -> PlainTextResponse:
        return PlainTextResponse("named")

    gate = HaloGate(
        Starlette(routes=[Route("/named", named_only)]),
        secret_key=SECRET,
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="c",
        oidc_client_secret="s",
        cookie_secure=False,
    )
    now = int(gate.clock())
    named = gate.codec.encode(Session(new_session_id(), "n@example.com", "named", now))
    pooled = gate.codec.encode(Session(new_session_id(), "c@example.com", "concurrent", now))
    with TestClient(gate) as http:
        http.cookies.set("halo_session", named)
        assert http.get("/named").text == "named"
        http.cookies.set("halo_session", pooled)
        assert http.get("/named").status_code == 403


def test_path_prefixes_match_whole_segments() -> None:
    from halo_gate.gateway.paths import PathPrefixes

    public = PathPrefixes(("/public", "/static/"))
    assert "/public" in public and "/public/x" in public and "/static/app.css" in public
    assert "/static" in public
    assert "/publicity" not in public and "/" not in public
    assert "/anything" not in PathPrefixes(())


async def test_a_store_that_stops_answering_is_a_store_error_not_a_hang(make: Make) -> None:
    # A socket that accepts connections and never answers, like a partitioned network.
    silent: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        gate = make(redis_url=f"redis://127.0.0.1:{port}/0")
        gate.core.guard.timeout = 0.2
        stale = gate.codec.encode(
            Session(new_session_id(), "x@example.com", "concurrent", int(gate.clock()) - 61)
        )
        async with client(gate, stale) as http:
            response = await http.get("/whoami", headers=JSON)
            ready = await http.get("/_halo/ready")
        assert response.status_code == 503
        assert response.json() == {"error": "store_unavailable"}
        assert ready.status_code == 503
    finally:
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_discovery_naming_another_issuer_is_refused(make: Make) -> None:
    gate = make()

    async def foreign_metadata() -> dict[str, str]:
        return {
            "issuer": "https://impostor.example",
            "authorization_endpoint": "https://impostor.example/authorize",
        }

    assert gate.oidc is not None
    gate.oidc._app.load_server_metadata = foreign_metadata
    async with client(gate) as http:
        response = await http.get("/_halo/login", headers=HTML)
    assert response.status_code == 502
    assert "not valid" in response.text
    assert "halo_session_login" not in response.headers.get("set-cookie", "")


async def test_simultaneous_requests_at_a_due_heartbeat_make_one_store_call(make: Make) -> None:
    gate = make()
    cookie = await signed_in(gate, "burst@example.com", heartbeat=gate.clock() - 61)
    calls = 0
    heartbeat = gate.engine.heartbeat

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # keep the round trip open while the others arrive
        return await heartbeat(*args, **kwargs)

    gate.engine.heartbeat = counting  # type: ignore[method-assign]
    async with client(gate, cookie) as http:
        responses = await asyncio.gather(*(http.get("/whoami") for _ in range(20)))
    assert [response.status_code for response in responses] == [200] * 20
    assert calls == 1


async def test_a_path_under_the_prefix_is_never_the_applications(make: Make) -> None:
    gate = make()
    cookie = await signed_in(gate, "u@example.com")
    async with client(gate, cookie) as c:
        assert (await c.get("/whoami", headers=JSON)).status_code == 200  # signed in
        for path in ("/_halo/api/named/a;b", "/_halo/..;/whoami", "/_halo/%2e%2e/x"):
            answer = await c.get(path, headers=JSON)
            assert answer.status_code == 400 and answer.json()["error"] == "bad_path", path


async def test_me_answers_get_only_and_says_so(make: Make) -> None:
    gate = make()
    cookie = await signed_in(gate, "u@example.com")
    async with client(gate, cookie) as c:
        assert (await c.head("/_halo/me")).status_code == 200
        refused = await c.post("/_halo/me", headers={"origin": BASE, **JSON})
        assert refused.status_code == 405 and refused.headers["allow"] == "GET"
        logout = await c.put("/_halo/logout", headers={"origin": BASE, **JSON})
        assert logout.status_code == 405 and logout.headers["allow"] == "GET, POST"
