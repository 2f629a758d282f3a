"""The administrators' JSON API end to end: who may use it, and what each resource does."""

from __future__ import annotations

from typing import Any

import httpx

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import Browser, Site, person

TOKEN = "an-admin-token-0123456789"
JSON = {"accept": "application/json"}
ROUTES = [
    ("GET", "/_halo/api/usage"),
    ("GET", "/_halo/api/sessions"),
    ("DELETE", "/_halo/api/sessions/nope"),
    ("GET", "/_halo/api/licences"),
    ("DELETE", "/_halo/api/licences/x@example.com"),
    ("GET", "/_halo/api/queue"),
    ("DELETE", "/_halo/api/queue/x@example.com"),
    ("GET", "/_halo/api/named"),
    ("PUT", "/_halo/api/named/x@example.com"),
    ("DELETE", "/_halo/api/named/x@example.com"),
    ("PUT", "/_halo/api/capacity"),
    ("GET", "/_halo/api/events"),
    ("GET", "/_halo/api/history"),
    ("GET", "/_halo/api/recommendation"),
    ("GET", "/_halo/admin"),
]


async def signed_in(site: Site, email: str, *groups: str) -> Browser:
    browser = site.browser()
    response = await browser.login(person(site.idp, email, *groups), "/whoami")
    assert response.status_code == 200, response.text
    return browser


async def call(browser: Browser, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"origin": browser.site.url, **JSON, **kwargs.pop("headers", {})}
    return await browser.client.request(method, browser.site.url + path, headers=headers, **kwargs)


async def test_only_administrators_reach_any_route(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", admin_groups="ops", admin_token=TOKEN)
    root = await signed_in(site, "root@example.com")
    operator = await signed_in(site, "op@example.com", "ops")
    other = await signed_in(site, "other@example.com", "agents")
    anonymous = site.browser()
    for method, path in ROUTES:
        body: dict[str, Any] = (
            {"json": {"concurrent_seats": 10}} if path.endswith("capacity") else {}
        )
        for admin in (root, operator):
            answer = await call(admin, method, path, **body)
            assert answer.status_code in (200, 404, 409), (method, path, answer.text)
        assert (await call(other, method, path, **body)).status_code == 403, (method, path)
        assert (await call(anonymous, method, path, **body)).status_code == 401, (method, path)
        if method == "GET":
            page = await anonymous.client.get(site.url + path, headers={"accept": "text/html"})
            assert page.status_code == 302 and "/_halo/login?next=" in page.headers["location"]
        async with httpx.AsyncClient(base_url=site.url) as api:
            good = await api.request(
                method, path, headers={"authorization": f"Bearer {TOKEN}"}, **body
            )
            assert good.status_code in (200, 404, 409), (method, path, good.text)
            bad = await api.request(method, path, headers={"authorization": "Bearer wrong"}, **body)
            # A state change with a wrong token is a browser-less request from elsewhere.
            assert bad.status_code == (401 if method == "GET" else 403), (method, path)


async def test_the_token_is_refused_when_none_is_configured(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com")
    async with httpx.AsyncClient(base_url=site.url) as api:
        answer = await api.get("/_halo/api/usage", headers={"authorization": "Bearer x"})
        assert answer.status_code == 401
        answer = await api.get("/_halo/api/usage", headers={"authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 401


async def test_cross_origin_state_changes_are_refused(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3)
    root = await signed_in(site, "root@example.com")
    for origin in ("http://evil.example", None):
        headers = {"origin": origin} if origin else {}
        answer = await root.client.put(
            site.url + "/_halo/api/capacity",
            json={"concurrent_seats": 9},
            headers={**JSON, **headers},
        )
        assert answer.status_code == 403
        assert answer.json()["error"] == "cross_origin"
    assert (await site.engine.usage()).concurrent_seats == 3


async def test_sessions_end_named_capacity_events_history(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(
        admins="root@example.com", concurrent_seats=3, named_seats=1, named_cooldown=3600
    )
    root = await signed_in(site, "root@example.com")
    bob = await signed_in(site, "bob@example.com")
    listed = (await call(root, "GET", "/_halo/api/sessions?search=BOB")).json()
    assert listed["total"] == 1
    (only,) = listed["sessions"]
    assert set(only) >= {"session_id", "user", "licence", "since", "last_seen"}
    assert (only["user"], only["licence"]) == ("bob@example.com", "concurrent")
    paged = (await call(root, "GET", "/_halo/api/sessions?limit=1&offset=1")).json()
    assert (paged["total"], len(paged["sessions"])) == (2, 1)
    assert (await call(root, "GET", "/_halo/api/sessions?limit=0")).status_code == 400

    ended = await call(root, "DELETE", f"/_halo/api/sessions/{only['session_id']}")
    assert ended.status_code == 200
    assert (
        await call(root, "DELETE", f"/_halo/api/sessions/{only['session_id']}")
    ).status_code == 404
    assert (await bob.get("/whoami", headers=JSON)).status_code == 401

    assert (await call(root, "PUT", "/_halo/api/named/Cat@Example.com")).json()[
        "outcome"
    ] == "assigned"
    full = await call(root, "PUT", "/_halo/api/named/dan@example.com")
    assert full.status_code == 409 and full.json()["error"] == "no_seat"
    assert (await call(root, "DELETE", "/_halo/api/named/cat@example.com")).status_code == 200
    cooling = await call(root, "PUT", "/_halo/api/named/dan@example.com")
    assert cooling.status_code == 409 and cooling.json()["error"] == "cooldown"
    assert 3500 < cooling.json()["retry_after"] <= 3600
    named = (await call(root, "GET", "/_halo/api/named")).json()
    assert named["assigned"] == [] and named["quarantined"][0]["person"] == "cat@example.com"

    resized = await call(root, "PUT", "/_halo/api/capacity", json={"concurrent_seats": 7})
    assert resized.json() == {"concurrent_seats": 7, "named_seats": 1}
    for bad in ({"concurrent_seats": -1}, {"named_seats": "3"}, {}, [1]):
        answer = await call(root, "PUT", "/_halo/api/capacity", json=bad)
        assert answer.status_code == 400 and "message" in answer.json()
    notjson = await call(root, "PUT", "/_halo/api/capacity", content=b"{")
    assert notjson.status_code == 400

    events = (await call(root, "GET", "/_halo/api/events?event=resized&limit=1")).json()
    assert events["events"][0]["reason"] == "root@example.com concurrent=7 named=1"
    bobs = (await call(root, "GET", "/_halo/api/events?person=bob@example.com")).json()
    assert [e["event"] for e in bobs["events"]] == ["ended", "admitted"]
    assert (await call(root, "GET", "/_halo/api/events?before=x")).status_code == 400

    history = (await call(root, "GET", "/_halo/api/history")).json()
    assert len(history["points"]) == 1440 and history["step"] == 60
    assert history["points"][-1]["peak"] == 2 and history["capacity"] == 7
    month = (await call(root, "GET", "/_halo/api/history?range=30d")).json()
    assert len(month["points"]) == 180 and month["points"][-1]["peak"] == 2
    assert (await call(root, "GET", "/_halo/api/history?range=1y")).status_code == 400
    assert (await call(root, "POST", "/_halo/api/history")).status_code == 405
    assert (await call(root, "GET", "/_halo/api/nothing")).status_code == 404


async def test_capacity_takes_only_whole_numbers_up_to_ten_million(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3, named_seats=1)
    root = await signed_in(site, "root@example.com")
    for bad in (
        {"concurrent_seats": 10**20},
        {"concurrent_seats": 10_000_001},
        {"named_seats": 2**63},
        {"concurrent_seats": 4.5},
        {"concurrent_seats": True},
    ):
        answer = await call(root, "PUT", "/_halo/api/capacity", json=bad)
        assert answer.status_code == 400, (bad, answer.text)
        assert "whole number from 0 to 10,000,000" in answer.json()["message"]
    usage = await site.engine.usage()
    assert (usage.concurrent_seats, usage.named_seats) == (3, 1)
    # 4.0 is the JSON number 4, as JSON Schema's "integer" (and so the OpenAPI document) has it.
    whole = await call(root, "PUT", "/_halo/api/capacity", json={"concurrent_seats": 4.0})
    assert whole.json() == {"concurrent_seats": 4, "named_seats": 1}
    most = await call(root, "PUT", "/_halo/api/capacity", json={"concurrent_seats": 10_000_000})
    assert most.json() == {"concurrent_seats": 10_000_000, "named_seats": 1}


async def test_recommendation_says_when_data_is_short_then_plans(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=5)
    root = await signed_in(site, "root@example.com")
    answer = (await call(root, "GET", "/_halo/api/recommendation")).json()
    assert answer["status"] == "no_prices"

    priced = await site_factory(
        admins="root@example.com", concurrent_seats=5, price_named=100, price_concurrent=140
    )
    root = await signed_in(priced, "root@example.com")
    answer = (await call(root, "GET", "/_halo/api/recommendation")).json()
    assert answer["status"] == "too_little_data" and "recorded so far: 1;" in answer["message"]
    assert answer["cost"]["total_annual"] == 12 * 5 * 140
