"""``HALO_GATE_IDENTITY=header``: a trusted proxy's headers, end to end over real sockets.

The gateway listens on 127.0.0.1 and trusts only 127.0.0.1; the untrusted peer is the same
machine connecting from 127.0.0.2, so trust is judged on the real peer address.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from halo_gate import ConfigError, HaloGate
from tests.gateway.conftest import SECRET, make_app
from tests.identity.conftest import shower
from tests.support import sign_out

JSON = {"accept": "application/json"}
HTML = {"accept": "text/html"}


def peer(address: str, *, cookies: bool = True) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    client = httpx.AsyncClient(transport=transport, headers=JSON)
    if not cookies:
        # A client that never keeps cookies: every request starts without one.
        client.cookies = _NoJar()
    return client


class _NoJar(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None


async def header_site(gateway: Any, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "identity": "header",
        "trusted_proxies": "127.0.0.1/32",
        "concurrent_seats": 1,
        "logout_url": "https://proxy.example/oauth2/sign_out",
        **overrides,
    }
    return gateway(**settings)


async def test_a_trusted_proxy_names_the_person_and_the_app_never_sees_the_headers(
    gateway: Any,
) -> None:
    site = await header_site(gateway)
    async with peer("127.0.0.1") as proxy:
        response = await proxy.get(
            site.url + "/whoami",
            headers={"X-Forwarded-Email": "Ann@Example.com", "X-Forwarded-Groups": "hr, ops"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user"] == "ann@example.com"
        assert body["licence"] == "concurrent"
        assert body["groups"] == ["hr", "ops"]
        assert "x-forwarded-email" not in body["headers"]
        assert "x-forwarded-groups" not in body["headers"]
        assert proxy.cookies.get("halo_session")
    assert (await site.engine.usage()).in_use == 1


async def test_a_client_without_cookies_shares_one_session_per_person(gateway: Any) -> None:
    site = await header_site(gateway, concurrent_seats=2)
    async with peer("127.0.0.1", cookies=False) as proxy:
        ids = set()
        for _ in range(5):
            response = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "ann@x.org"})
            assert response.status_code == 200, response.text
            ids.add(response.json()["session_id"])
    assert len(ids) == 1
    sessions = await site.engine.store.hlen(
        f"{{halo:{site.gate.settings.instance}}}:sessions:ann@x.org"
    )
    assert sessions == 1
    assert (await site.engine.usage()).in_use == 1


async def test_the_pool_is_enforced_and_a_changed_person_drops_the_cookie(gateway: Any) -> None:
    site = await header_site(gateway)
    async with peer("127.0.0.1") as proxy:
        ann = {"X-Forwarded-Email": "ann@x.org"}
        assert (await proxy.get(site.url + "/", headers=ann)).status_code == 200
        bob = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "bob@x.org"})
        # The cookie is ann's, the request is bob's: bob is asked about, and the pool is full.
        assert bob.status_code == 503
        assert bob.json()["error"] == "pool_full"
        assert (await site.engine.usage()).in_use == 1

        out = await sign_out(proxy, site.url, ann)
        assert out.status_code == 303
        assert out.headers["location"] == "https://proxy.example/oauth2/sign_out"
        assert (await site.engine.usage()).in_use == 0

        site.shift_clock(6)  # a refused person is asked about again after the refusal's hold
        bob = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "bob@x.org"})
        assert bob.status_code == 200
        assert bob.json()["user"] == "bob@x.org"
        # Ann's old cookie with bob's request is bob, never ann.
        ann_again = await proxy.get(site.url + "/", headers=ann)
        assert ann_again.status_code == 503


async def test_an_untrusted_peer_is_refused_with_400_and_nobody_is_admitted(
    gateway: Any,
) -> None:
    site = await header_site(gateway)
    async with peer("127.0.0.2") as stranger:
        forged = {"X-Forwarded-Email": "boss@x.org"}
        response = await stranger.get(site.url + "/", headers=forged)
        assert response.status_code == 400
        assert response.json()["error"] == "bad_identity"
        page = await stranger.get(site.url + "/", headers={**forged, **HTML})
        assert page.status_code == 400
        assert page.headers["content-type"].startswith("text/html")
        groups_only = await stranger.get(site.url + "/", headers={"X-Forwarded-Groups": "admin"})
        assert groups_only.status_code == 400
        own = await stranger.get(site.url + "/_halo/me", headers=forged)
        assert own.status_code == 400
        # Without identity headers the stranger is simply not signed in.
        anonymous = await stranger.get(site.url + "/")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "login_required"
    assert (await site.engine.usage()).in_use == 0


@pytest.mark.parametrize(
    "headers",
    [
        [("X_Forwarded_Email", "boss@x.org")],
        [("x_forwarded-email", "boss@x.org")],
        [("X-Forwarded-Email", "ann@x.org"), ("X-Forwarded-Email", "boss@x.org")],
        [("X-Forwarded-Email", "ann@x.org"), ("X_Forwarded_Email", "boss@x.org")],
        [("X-Forwarded-Email", "ann@x.org"), ("X-Forwarded_Groups", "admin")],
    ],
)
async def test_header_name_variants_and_repeats_are_refused_even_from_the_proxy(
    gateway: Any, headers: list[tuple[str, str]]
) -> None:
    site = await header_site(gateway)
    async with peer("127.0.0.1") as proxy:
        response = await proxy.get(site.url + "/", headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_identity"
    assert (await site.engine.usage()).in_use == 0


async def test_public_paths_are_served_without_admission_and_without_the_headers(
    gateway: Any,
) -> None:
    site = await header_site(gateway)
    async with peer("127.0.0.1") as proxy:
        response = await proxy.get(site.url + "/public/x", headers={"X-Forwarded-Email": "a@x"})
    assert response.status_code == 200
    assert response.json()["user"] is None
    assert "x-forwarded-email" not in response.json()["headers"]
    assert (await site.engine.usage()).in_use == 0


def test_startup_refuses_header_identity_without_trusted_proxies() -> None:
    with pytest.raises(ConfigError, match="HALO_GATE_TRUSTED_PROXIES is required"):
        HaloGate(shower(), secret_key=SECRET, identity="header")
    with pytest.raises(ConfigError, match="HALO_GATE_TRUSTED_PROXIES has value"):
        HaloGate(shower(), secret_key=SECRET, identity="header", trusted_proxies="10.0.0.300")
    with pytest.raises(ConfigError, match="HALO_GATE_USER_HEADER has value"):
        HaloGate(
            shower(),
            secret_key=SECRET,
            identity="header",
            trusted_proxies="10.0.0.0/8",
            user_header="X_Email",
        )


@pytest.mark.parametrize(
    ("argv", "allowed", "warned"),
    [
        (["uvicorn", "app:app"], None, "127.0.0.1 and ::1"),
        (["uvicorn", "app:app"], "*", "FORWARDED_ALLOW_IPS is '*'"),
        (["gunicorn", "-k", "uvicorn.workers.UvicornWorker"], "10.0.0.0/8", "gunicorn"),
        (["uvicorn", "app:app", "--no-proxy-headers"], "*", None),
        (["uvicorn", "app:app"], "", None),  # halo-gate serve's: nobody is trusted
    ],
)
def test_startup_warns_when_the_server_may_take_the_peer_from_x_forwarded_for(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    argv: list[str],
    allowed: str | None,
    warned: str | None,
) -> None:
    import uvicorn  # noqa: F401  (loaded, as in a server process)

    monkeypatch.setattr("sys.argv", argv)
    if allowed is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", allowed)
    with caplog.at_level("WARNING", logger="halo_gate.identity"):
        HaloGate(shower(), secret_key=SECRET, identity="header", trusted_proxies="127.0.0.1")
    said = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    if warned is None:
        assert said == []
    else:
        assert len(said) == 1 and warned in said[0] and "--no-proxy-headers" in said[0]


async def test_own_routes_count_the_cookie_only_for_the_request_s_person(gateway: Any) -> None:
    site = await header_site(gateway, concurrent_seats=2)
    async with peer("127.0.0.1") as proxy:
        assert (
            await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "ann@x.org"})
        ).is_success
        me = await proxy.get(site.url + "/_halo/me", headers={"X-Forwarded-Email": "ann@x.org"})
        assert me.json()["user"] == "ann@x.org"
        # Ann's cookie rides along, but the request is bob's: bob is named, holding nothing.
        other = await proxy.get(site.url + "/_halo/me", headers={"X-Forwarded-Email": "bob@x.org"})
        assert other.status_code == 200
        assert other.json()["user"] == "bob@x.org"
        assert other.json()["status"] == "none"
        assert other.json()["session_id"] != me.json()["session_id"]
        nobody = await proxy.get(site.url + "/_halo/me")
        assert nobody.status_code == 401


async def test_websockets_take_the_person_from_the_proxy_before_accept(gateway: Any) -> None:
    site = await header_site(gateway, app=make_app())
    url = site.url.replace("http://", "ws://") + "/ws"
    async with connect(url, additional_headers={"X-Forwarded-Email": "ann@x.org"}) as socket:
        assert await socket.recv() == "hello ann@x.org"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            url, additional_headers={"X-Forwarded-Email": "ann@x.org"}, local_addr=("127.0.0.2", 0)
        ):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        async with connect(url, additional_headers={"X-Forwarded-Email": "bob@x.org"}):
            pass  # the pool of one is ann's


async def test_named_seats_and_named_groups_work_as_with_oidc(gateway: Any) -> None:
    site = await header_site(
        gateway, named_seats=2, named_users="nina@x.org", named_groups="agents"
    )
    async with peer("127.0.0.1", cookies=False) as proxy:
        pool = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "pat@x.org"})
        assert pool.json()["licence"] == "concurrent"
        full = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "quinn@x.org"})
        assert full.status_code == 503
        for headers in (
            {"X-Forwarded-Email": "nina@x.org"},
            {"X-Forwarded-Email": "ada@x.org", "X-Forwarded-Groups": "agents"},
        ):
            named = await proxy.get(site.url + "/", headers=headers)
            assert named.status_code == 200, named.text
            assert named.json()["licence"] == "named"
    usage = await site.engine.usage()
    assert (usage.in_use, usage.named_active) == (1, 2)


async def test_an_ended_session_is_admitted_afresh_while_the_proxy_vouches(gateway: Any) -> None:
    site = await header_site(gateway)
    ann = {"X-Forwarded-Email": "ann@x.org"}
    async with peer("127.0.0.1") as proxy:
        first = await proxy.get(site.url + "/", headers=ann)
        assert first.status_code == 200
        assert await site.engine.end_session("ann@x.org", by="admin@x.org") == 1
        site.shift_clock(61)  # the ending is found at the next heartbeat at the latest
        again = await proxy.get(site.url + "/", headers=ann)
        assert again.status_code == 200, again.text
        assert again.json()["session_id"] == first.json()["session_id"]
    usage = await site.engine.usage()
    assert usage.in_use == 1


async def test_a_proxy_s_groups_count_for_department_pools(gateway: Any) -> None:
    site = await header_site(gateway, concurrent_seats=3, pool_cap="hr=1")
    async with peer("127.0.0.1", cookies=False) as proxy:
        hr = {"X-Forwarded-Groups": "hr,staff"}
        first = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "h1@x.org", **hr})
        assert first.status_code == 200
        second = await proxy.get(site.url + "/", headers={"X-Forwarded-Email": "h2@x.org", **hr})
        assert second.status_code == 503
        assert (second.json()["reason"], second.json()["group"]) == ("group_cap", "hr")
    assert (await site.engine.usage()).groups["hr"].in_use == 1
