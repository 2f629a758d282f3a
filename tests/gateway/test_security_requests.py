"""Security of ordinary requests: hosts, retry links, the cookie's name and copies, dot segments
in public paths, and WebSocket origins."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from halo_gate import ConfigError, HaloGate
from halo_gate.cli.demo import IdentityProvider
from halo_gate.session import Session, new_session_id
from tests.gateway.conftest import SECRET, Site, make_app, person

EVIL = {"host": "evil.example", "accept": "text/html"}


def stale_cookie(site: Site, person_: str) -> str:
    """A signed cookie whose heartbeat is due, for a session the store does not hold."""
    session = Session(new_session_id(), person_, "concurrent", int(site.gate.clock()) - 120)
    return site.gate.codec.encode(session)


async def raw_get(site: Site, target: str, cookie: str = "") -> int:
    """The status of a GET sent byte for byte (HTTP clients normalise ``..`` away)."""
    host, port = urlsplit(site.url).hostname or "", urlsplit(site.url).port or 80
    reader, writer = await asyncio.open_connection(host, port)
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n{extra}"
        "Connection: close\r\n\r\n".encode()
    )
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_allowed_hosts_refuse_another_host(site_factory: Any) -> None:
    site = await site_factory(allowed_hosts="127.0.0.1,*.example.org")
    async with httpx.AsyncClient() as client:
        refused = await client.get(urljoin(site.url, "/_halo/login"), headers=EVIL)
        allowed = await client.get(urljoin(site.url, "/_halo/health"))
        wildcard = await client.get(
            urljoin(site.url, "/_halo/health"), headers={"host": "a.example.org"}
        )
    assert refused.status_code == 400
    assert "evil" not in refused.headers.get("location", "")
    assert allowed.status_code == 200 and wildcard.status_code == 200


async def test_retry_links_are_relative_whatever_the_host(site_factory: Any) -> None:
    site = await site_factory(concurrent_seats=1, public_url="https://gate.example.com")
    await site.engine.admit("holder@example.com", new_session_id())
    browser = site.browser(**EVIL)
    browser.set_session_cookie(stale_cookie(site, "late@example.com"))
    full = await browser.get("/reports?month=11")
    assert full.status_code == 503
    assert "evil" not in full.text
    assert 'url=/reports?month=11"' in full.text

    down = await site_factory(redis_url="redis://127.0.0.1:1/0")
    browser = down.browser(**EVIL)
    browser.set_session_cookie(stale_cookie(down, "late@example.com"))
    unavailable = await browser.get("/reports")
    assert unavailable.status_code == 503
    assert "evil" not in unavailable.text and 'href="/reports"' in unavailable.text


async def test_a_host_prefixed_cookie_signs_in(site_factory: Any, idp: IdentityProvider) -> None:
    site = await site_factory(concurrent_seats=5, cookie_name="__Host-halo", cookie_secure=True)
    name = "__Host-halo"
    async with httpx.AsyncClient(headers={"accept": "text/html"}) as client:
        start = await client.get(urljoin(site.url, "/_halo/login?next=/whoami"))
        transaction = start.headers["set-cookie"]
        assert transaction.startswith(name + "_login=")
        assert "Path=/;" in transaction and "Secure" in transaction and "Domain" not in transaction
        value = transaction.split(";")[0].split("=", 1)[1]
        form = await client.get(start.headers["location"])
        redirect = await client.post(str(form.url), data={"sub": person(idp, "host@example.com")})
        callback = await client.get(
            redirect.headers["location"], headers={"cookie": f"{name}_login={value}"}
        )
        assert callback.status_code == 302, callback.text
        session = callback.headers["set-cookie"]
        assert session.startswith(name + "=") and "Path=/;" in session and "Secure" in session
        cookie = session.split(";")[0]
        whoami = await client.get(urljoin(site.url, "/whoami"), headers={"cookie": cookie})
    assert whoami.json()["user"] == "host@example.com"


def build(**settings: Any) -> HaloGate:
    return HaloGate(
        make_app(),
        secret_key=SECRET,
        oidc_issuer="https://idp.example",
        oidc_client_id="c",
        oidc_client_secret="s",
        **settings,
    )


def test_a_host_prefixed_cookie_needs_secure() -> None:
    with pytest.raises(ConfigError, match="HALO_GATE_COOKIE_NAME"):
        build(cookie_name="__Host-halo", cookie_secure=False)


async def test_of_two_cookies_of_our_name_the_first_is_used(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    assert (await browser.login(person(idp, "first@example.com"))).status_code == 200
    good = browser.session_cookie
    async with httpx.AsyncClient(headers={"accept": "application/json"}) as client:
        url = urljoin(site.url, "/whoami")
        first = await client.get(url, headers={"cookie": f"halo_session={good}; halo_session=x"})
        second = await client.get(url, headers={"cookie": f"halo_session=x; halo_session={good}"})
    assert first.json()["user"] == "first@example.com"
    assert second.status_code == 401


@pytest.mark.parametrize("prefixes", ["/", "/,/static", "//", "/static/../api"])
def test_a_public_prefix_covering_everything_is_refused(prefixes: str) -> None:
    with pytest.raises(ConfigError, match="HALO_GATE_PUBLIC_PATHS"):
        build(public_paths=prefixes)


@pytest.mark.parametrize(
    "target",
    ["/public/../whoami", "/public/%2e%2e/whoami", "/public%2F..%2Fwhoami", "/public/./x/../../w"],
)
async def test_dot_segments_never_make_a_path_public(site_factory: Any, target: str) -> None:
    site = await site_factory()
    assert await raw_get(site, "/public/whoami") == 200
    assert await raw_get(site, target) == 401


async def test_a_cross_origin_websocket_handshake_is_refused(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5, websocket_origins="https://app.example.com")
    browser = site.browser()
    assert (await browser.login(person(idp, "sockets@example.com"))).status_code == 200
    ws_url = site.url.replace("http://", "ws://") + "/ws"
    cookie = {"cookie": f"halo_session={browser.session_cookie}"}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url, additional_headers={**cookie, "origin": "https://evil.example"}):
            pass
    assert refused.value.response.status_code == 403
    for origin in (site.url, "https://app.example.com"):
        async with connect(ws_url, additional_headers={**cookie, "origin": origin}) as websocket:
            assert await websocket.recv() == "hello sockets@example.com"


def test_startup_warns_without_a_public_url_only_where_callbacks_use_the_host(
    caplog: pytest.LogCaptureFixture,
) -> None:
    build()
    assert "HALO_GATE_PUBLIC_URL is not set" in caplog.text
    caplog.clear()
    build(public_url="https://app.example.com")
    HaloGate(
        make_app(),
        secret_key=SECRET,
        identity="header",
        trusted_proxies="127.0.0.1",
    )
    assert "HALO_GATE_PUBLIC_URL is not set" not in caplog.text
