"""The gateway's own routes identify the person by every identity source and never license
them: an administrator without a seat reaches the console and the API while the pool is full,
``/_halo/me`` names the person of a header or an assertion without a cookie, and sign-out is
a POST with the form's token."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from halo_gate import HaloGate
from tests.gateway.conftest import make_app
from tests.identity.conftest import Gateway
from tests.identity.test_jwt import AUDIENCE, HEADER, ISSUER, KeyServer, keys, sign
from tests.resilience.proxy import StallingProxy, stalling_proxy

pytestmark = pytest.mark.redis

__all__ = ["keys"]  # the JWKS server fixture, shared with the jwt tests

ADMIN = "boss@example.com"
HTML = {"accept": "text/html"}
JSON = {"accept": "application/json"}


class Source:
    """One identity source, and the headers that name a person through it."""

    def __init__(self, kind: str, keys: KeyServer) -> None:
        self.kind = kind
        self._keys = keys
        self._key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
        keys.publish(self._key)

    def settings(self) -> dict[str, Any]:
        if self.kind == "header":
            return {"identity": "header", "trusted_proxies": "127.0.0.1/32"}
        if self.kind == "jwt":
            return {
                "identity": "jwt",
                "jwt_header": HEADER,
                "jwt_jwks_url": self._keys.url,
                "jwt_audience": AUDIENCE,
                "jwt_issuer": ISSUER,
            }
        return {"identity": "app"}

    def naming(self, person: str) -> dict[str, str]:
        if self.kind == "header":
            return {"X-Forwarded-Email": person}
        if self.kind == "jwt":
            return {HEADER: sign(self._key, email=person, sub=person)}
        return {"X-User": person}


def app_identity(scope: Any) -> str | None:
    """The ``app`` source's callable: the person an upstream login put in a header."""
    for name, value in scope["headers"]:
        if name == b"x-user":
            return str(value.decode())
    return None


@pytest.fixture(params=["header", "jwt", "app"])
async def site(request: pytest.FixtureRequest, gateway: Any, keys: KeyServer) -> Any:
    source = Source(request.param, keys)
    settings = {**source.settings(), "concurrent_seats": 1, "admins": ADMIN}
    if request.param == "app":
        settings["identity"] = app_identity
    started: Gateway = gateway(**settings)
    started.source = source  # type: ignore[attr-defined]
    return started


async def test_an_administrator_without_a_seat_reaches_the_console_while_the_pool_is_full(
    site: Any,
) -> None:
    source: Source = site.source
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=False) as holder:
        taken = await holder.get("/", headers={**JSON, **source.naming("holder@example.com")})
        assert taken.status_code == 200
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=False) as boss:
        naming = source.naming(ADMIN)
        console = await boss.get("/_halo/admin", headers={**HTML, **naming})
        assert console.status_code == 200, console.text
        assert "location" not in console.headers
        me = await boss.get("/_halo/me", headers={**JSON, **naming})
        assert me.status_code == 200
        assert me.json()["user"] == ADMIN
        assert me.json()["status"] == "none"  # identified, holding no licence, not in line
        usage = await boss.get("/_halo/api/usage", headers={**JSON, **naming})
        assert usage.status_code == 200
        assert usage.json()["concurrent"]["in_use"] == 1
        origin = {"origin": site.url}
        ended = await boss.delete(
            "/_halo/api/sessions/no-such-session", headers={**JSON, **naming, **origin}
        )
        assert ended.status_code in (200, 404)
        assert "position" not in ended.json()
        # The application itself still needs a licence: the administrator waits there.
        refused = await boss.get("/", headers={**JSON, **naming})
        assert refused.status_code == 503
        waiting = await boss.get("/_halo/me", headers={**JSON, **naming})
        assert waiting.json()["status"] == "waiting"


async def test_me_names_the_person_of_the_source_without_a_cookie(site: Any) -> None:
    source: Source = site.source
    async with httpx.AsyncClient(base_url=site.url) as client:
        admitted = await client.get("/", headers={**JSON, **source.naming("ann@example.com")})
        assert admitted.status_code == 200
    async with httpx.AsyncClient(base_url=site.url) as cookieless:
        me = await cookieless.get("/_halo/me", headers={**JSON, **source.naming("ann@example.com")})
    assert me.status_code == 200
    assert me.json()["user"] == "ann@example.com"
    assert me.json()["status"] == "licensed"
    assert me.json()["licence"] == "concurrent"


async def test_nobody_named_gets_a_page_not_a_redirect_loop(site: Any) -> None:
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=False) as client:
        console = await client.get("/_halo/admin", headers=HTML)
        me = await client.get("/_halo/me", headers=JSON)
    assert console.status_code == 401
    assert "location" not in console.headers
    assert me.status_code == 401


async def test_signing_out_takes_a_post_with_the_forms_token(site: Any) -> None:
    # A page on another site that navigates the person to /_halo/logout must not sign them out.
    source: Source = site.source
    naming = source.naming("ann@example.com")
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=False) as client:
        assert (await client.get("/", headers={**JSON, **naming})).status_code == 200
        form = await client.get("/_halo/logout", headers={**HTML, **naming})
        assert form.status_code == 200
        assert (await site.engine.usage()).in_use == 1
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        origin = {"origin": site.url, "content-type": "application/x-www-form-urlencoded"}
        forged = await client.post(
            "/_halo/logout", content="csrf_token=forged", headers={**naming, **origin}
        )
        assert forged.status_code == 403
        assert (await site.engine.usage()).in_use == 1
        signed_out = await client.post(
            "/_halo/logout", content=f"csrf_token={token.group(1)}", headers={**naming, **origin}
        )
        assert signed_out.status_code == 303
    assert (await site.engine.usage()).in_use == 0


@pytest.fixture
def proxy() -> Iterator[StallingProxy]:
    with stalling_proxy() as started:
        yield started


@pytest.fixture
async def stalled(proxy: StallingProxy) -> AsyncIterator[HaloGate]:
    gate = HaloGate(
        make_app(),
        identity=app_identity,
        secret_key="a-test-signing-key-0123456789",
        redis_url=proxy.url,
        cookie_secure=False,
    )
    gate.core.guard.timeout = 0.3
    yield gate
    proxy.resume()
    await gate.aclose()


async def test_a_stalled_store_with_a_source_costs_one_timeout_then_the_breaker_answers(
    stalled: HaloGate, proxy: StallingProxy
) -> None:
    proxy.stall()
    transport = httpx.ASGITransport(app=stalled)
    async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
        timings = []
        for number in range(6):
            started = time.monotonic()
            response = await client.get("/", headers={**JSON, "X-User": f"p{number}@example.com"})
            timings.append(time.monotonic() - started)
            assert response.status_code == 503
    assert timings[0] >= 0.25
    assert all(took < 0.15 for took in timings[1:]), timings
    assert stalled.breaker.trips == 1
    assert stalled.breaker.short_circuited == 5
    await asyncio.sleep(0)
