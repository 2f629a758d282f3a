"""Harvesting end to end: a real IdP over HTTP, the gateway under uvicorn, the real Redis.

Two slots, a two-minute threshold (``HALO_GATE_HARVEST_IDLE=120``) and a heartbeat every minute;
idleness is made with ``Site.shift_clock``, which moves the gateway's clock and the store
scripts' alike (harvesting is decided on the scripts' clock). With a grace and an offer of 8 s,
a waiter's page polls every 2 s."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser as Chromium
from prometheus_client.parser import text_string_to_metric_families

from halo_gate.cli.demo import IdentityProvider
from tests.admin.test_console import chromium, wait_for  # noqa: F401 (a fixture)
from tests.support import eventually

from .conftest import Browser, Site, person

pytestmark = pytest.mark.redis

TOKEN = "an-admin-token-0123456789"
HARVEST = {
    "concurrent_seats": 2,
    "harvest_idle": 120,
    "heartbeat_interval": 60,
    "queue_grace": 8,
    "queue_offer": 8,
    "admin_token": TOKEN,
}
JSON = {"accept": "application/json"}
TOLD = "passed to a colleague who needed one after\n  2 minutes without activity"


async def signed_in(site: Site, email: str) -> Browser:
    browser = site.browser()
    response = await browser.login(person(site.idp, email), "/whoami")
    assert response.status_code == 200, response.text
    return browser


def session_id(browser: Browser) -> str:
    session = browser.site.gate.codec.decode(browser.session_cookie)
    assert session is not None
    return session.session_id


async def admin(site: Site, method: str, path: str) -> httpx.Response:
    """An administrator's call with ``HALO_GATE_ADMIN_TOKEN`` (it holds no slot)."""
    async with httpx.AsyncClient(base_url=site.url) as api:
        return await api.request(method, path, headers={"authorization": f"Bearer {TOKEN}"})


async def harvested_events(site: Site) -> list[dict[str, Any]]:
    answer = await admin(site, "GET", "/_halo/api/events?event=ended&reason=harvested")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


async def releases(site: Site) -> dict[str, float]:
    """``halo_gate_releases_total`` by cause, as ``/_halo/metrics`` reads it."""
    answer = await admin(site, "GET", "/_halo/metrics")
    assert answer.status_code == 200, answer.text
    return {
        sample.labels["cause"]: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "halo_gate_releases_total"
    }


def announced(site: Site, session: str) -> bool:
    """Whether the worker heard that ``session``'s slot was harvested."""
    seen = site.gate.memory.get(session)
    return seen is not None and seen.refusal is not None and seen.refusal.reason == "harvested"


def position(page: str) -> int:
    match = re.search(r'data-testid="position">(\d+)<', page)
    assert match, page
    return int(match.group(1))


async def test_the_longest_idle_holder_is_harvested_waits_in_line_and_is_readmitted(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(**HARVEST)
    alice = await signed_in(site, "alice@example.com")
    bob = await signed_in(site, "bob@example.com")
    harvested = session_id(alice)

    # Both idle past the threshold; bob comes back (a heartbeat renews his slot), alice does not.
    site.shift_clock(130)
    assert (await bob.get("/")).status_code == 200
    carol = site.browser()
    admitted = await carol.login(person(idp, "carol@example.com"), "/whoami")
    assert admitted.status_code == 200
    assert admitted.json()["user"] == "carol@example.com"
    holders = (await admin(site, "GET", "/_halo/api/sessions")).json()["sessions"]
    assert sorted(holder["user"] for holder in holders) == ["bob@example.com", "carol@example.com"]
    await eventually(lambda: announced(site, harvested), "the harvest's announcement")

    # Alice's next request is told why, with a place in line; her cookie stays valid.
    answer = await alice.get("/whoami", headers=JSON)
    assert answer.status_code == 503
    body = answer.json()
    assert (body["error"], body["reason"], body["position"]) == ("pool_full", "harvested", 1)
    page = await alice.get("/reports")
    assert (page.status_code, page.history) == (503, [])
    assert 'data-testid="harvested"' in page.text and TOLD in page.text
    assert position(page.text) == 1
    assert 'http-equiv="refresh" content="2; url=/reports"' in page.text
    assert (await bob.get("/")).status_code == 200

    # Carol signs out: alice's next poll readmits her, with the same session.
    assert (await carol.logout()).status_code == 303
    site.shift_clock(3)
    back = await alice.get("/whoami", headers=JSON)
    assert back.status_code == 200
    assert back.json()["user"] == "alice@example.com"
    assert session_id(alice) == harvested
    usage = await site.engine.usage()
    assert (usage.in_use, usage.queue_length) == (2, 0)

    (event,) = await harvested_events(site)
    assert (event["user"], event["session"], event["licence"]) == (
        "alice@example.com",
        harvested,
        "concurrent",
    )
    counted = await releases(site)
    assert (counted["harvested"], counted["logout"]) == (1, 1)


async def test_with_the_line_off_the_harvested_person_is_refused_until_an_admin_frees_a_slot(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(**HARVEST, queue="off")
    alice = await signed_in(site, "alice@example.com")
    site.shift_clock(1)
    bob = await signed_in(site, "bob@example.com")

    # Both idle past the threshold: alice, idle a second longer, yields. Bob comes back
    # before she does (else her return would take his idle slot in turn).
    site.shift_clock(130)
    carol = await signed_in(site, "carol@example.com")
    assert (await bob.get("/whoami", headers=JSON)).status_code == 200
    answer = await alice.get("/whoami", headers=JSON)
    assert answer.status_code == 503
    assert answer.json() == {
        "error": "pool_full",
        "reason": "harvested",
        "group": None,
        "capacity": 2,
        "in_use": 2,
        "retry_after": int(answer.headers["retry-after"]),
    }
    page = await alice.get("/")
    assert page.status_code == 503
    assert 'data-testid="harvested"' in page.text and TOLD in page.text
    assert "All 2 concurrent licences are in use" in page.text
    assert (await site.engine.usage()).queue_length == 0

    # An administrator ends carol's session: alice's next request, past the remembered
    # refusal, takes the slot back.
    ended = await admin(site, "DELETE", f"/_halo/api/sessions/{session_id(carol)}")
    assert ended.status_code == 200, ended.text
    site.shift_clock(6)
    assert (await alice.get("/whoami", headers=JSON)).status_code == 200
    assert (await bob.get("/whoami", headers=JSON)).status_code == 200
    assert (await carol.get("/whoami", headers=JSON)).status_code == 401

    assert [event["user"] for event in await harvested_events(site)] == ["alice@example.com"]
    counted = await releases(site)
    assert (counted["harvested"], counted["admin"]) == (1, 1)


async def test_a_harvested_person_who_returns_takes_the_slot_of_a_holder_idle_past_it(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(**HARVEST)
    alice = await signed_in(site, "alice@example.com")
    site.shift_clock(1)
    bob = await signed_in(site, "bob@example.com")
    site.shift_clock(130)
    await signed_in(site, "carol@example.com")
    # Alice's return asks for a slot like anyone's: bob, still idle past the threshold, yields.
    assert (await alice.get("/whoami", headers=JSON)).status_code == 200
    answer = await bob.get("/whoami", headers=JSON)
    assert (answer.status_code, answer.json()["reason"]) == (503, "harvested")
    events = await harvested_events(site)
    assert [event["user"] for event in events] == ["bob@example.com", "alice@example.com"]
    assert (await releases(site))["harvested"] == 2


@pytest.mark.slow
async def test_the_harvested_persons_browser_shows_why_and_gets_the_app_back_by_itself(
    site_factory: Any,
    idp: IdentityProvider,
    chromium: Chromium,  # noqa: F811
) -> None:
    site = await site_factory(**HARVEST)
    context = await chromium.new_context()
    page = await context.new_page()
    person(idp, "alice@example.com")
    await page.goto(site.url + "/reports")
    await page.fill("input[name=sub]", "alice@example.com")
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url(site.url + "/reports")
    assert (await page.locator("body").text_content() or "").strip() == "page for alice@example.com"
    bob = await signed_in(site, "bob@example.com")

    site.shift_clock(130)
    assert (await bob.get("/")).status_code == 200
    carol = await signed_in(site, "carol@example.com")
    reloaded = await page.reload()
    assert reloaded is not None and reloaded.status == 503
    text = await page.get_by_test_id("harvested").text_content(timeout=1000)
    assert "after 2 minutes without activity" in " ".join((text or "").split())

    # Carol signs out; the waiting page's own refresh (every 2 s) brings alice's page back.
    await carol.logout()

    async def in_the_app() -> bool:
        try:
            body = await page.locator("body").text_content(timeout=200)
        except Exception:  # the page is between two loads
            return False
        return (body or "").strip() == "page for alice@example.com"

    await wait_for(in_the_app, "the application's page", timeout=10)
    assert page.url == site.url + "/reports"
    await context.close()
