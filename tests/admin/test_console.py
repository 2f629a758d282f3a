"""The console at ``/_halo/admin``: its form posts, and the page in a real headless browser
(Debian's chromium driven by Playwright for Python)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, async_playwright

from halo_gate.cli.demo import IdentityProvider
from halo_gate.licensing.records import now
from tests.gateway.conftest import Browser, Site, person

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(__file__).resolve().parent.parent / "artefacts"
JSON = {"accept": "application/json"}


async def signed_in(site: Site, email: str) -> Browser:
    browser = site.browser()
    assert (await browser.login(person(site.idp, email), "/whoami")).status_code == 200
    return browser


async def console_context(
    chromium: Chromium, site: Site, browser: Browser, **options: Any
) -> BrowserContext:
    """A Chromium context (``options`` as Playwright takes them) carrying the cookies that
    ``browser`` signed in with."""
    context = await chromium.new_context(**options)
    cookies = browser.client.cookies.items()
    await context.add_cookies([{"name": k, "value": v, "url": site.url} for k, v in cookies])
    return context


async def csrf(browser: Browser) -> str:
    page = await browser.get("/_halo/admin")
    assert page.status_code == 200, page.text
    marker = 'name="csrf_token" value="'
    return page.text.split(marker, 1)[1].split('"', 1)[0]


async def test_console_forms_need_the_token_and_our_origin(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3)
    root = await signed_in(site, "root@example.com")
    token = await csrf(root)
    url = site.url + "/_halo/admin/capacity"
    forged = await root.client.post(
        url, data={"csrf_token": "x", "concurrent_seats": "9"}, headers={"origin": site.url, **JSON}
    )
    assert forged.status_code == 403 and forged.json()["error"] == "csrf"
    elsewhere = await root.client.post(
        url,
        data={"csrf_token": token, "concurrent_seats": "9"},
        headers={"origin": "http://x.example"},
    )
    assert elsewhere.status_code == 403
    assert (await site.engine.usage()).concurrent_seats == 3
    done = await root.client.post(
        url,
        data={"csrf_token": token, "concurrent_seats": "9"},
        headers={"origin": site.url, **JSON},
    )
    assert done.status_code == 200 and "9 concurrent slots" in done.json()["message"]
    # Without script the form posts as a navigation and comes back to the console.
    bad = await root.client.post(
        url, data={"csrf_token": token, "concurrent_seats": "many"}, headers={"origin": site.url}
    )
    assert bad.status_code == 303
    assert bad.headers["location"] == "/_halo/admin?outcome=bad_capacity"
    shown = await root.get(bad.headers["location"])
    assert "The new capacity was not accepted" in shown.text
    assert "default-src 'none'" in shown.headers["content-security-policy"]
    assert (await site.engine.usage()).concurrent_seats == 9


async def test_the_status_line_shows_only_fixed_sentences_chosen_by_a_code(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3)
    root = await signed_in(site, "root@example.com")
    lure = "Your licence expired. Call +44 20 7946 0000 to renew"
    for query in (f"message={lure}", f"outcome={lure}", "outcome=__class__"):
        page = await root.get("/_halo/admin", params=dict([query.split("=", 1)]))
        assert page.status_code == 200
        assert "Call +44" not in page.text and "__class__" not in page.text
        assert '<p id="status" role="status" aria-live="polite"></p>' in page.text
    token = await csrf(root)
    ended = await root.client.post(
        site.url + "/_halo/admin/end",
        data={"csrf_token": token, "session_id": "no-such-session"},
        headers={"origin": site.url},
    )
    assert ended.headers["location"] == "/_halo/admin?outcome=already_ended"
    shown = await root.get(ended.headers["location"])
    assert '<p id="status" role="status" aria-live="polite">That session has already ended.' in (
        shown.text
    )


async def test_the_capacity_form_refuses_numbers_that_are_not_plain_digits_in_range(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3)
    root = await signed_in(site, "root@example.com")
    token = await csrf(root)
    for value in ("²", "٣", "1e3", "-1", "10000001", "9" * 5000):
        answer = await root.client.post(
            site.url + "/_halo/admin/capacity",
            data={"csrf_token": token, "concurrent_seats": value},
            headers={"origin": site.url, **JSON},
        )
        assert answer.status_code == 400, (value[:10], answer.status_code)
        assert "whole number from 0 to 10,000,000" in answer.json()["message"]
    assert (await site.engine.usage()).concurrent_seats == 3


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the console never showed {what}")


async def text_is(page: Page, selector: str, value: str) -> bool:
    return (await page.text_content(selector) or "").strip() == value


@pytest.fixture
async def chromium() -> Any:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"The console test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)."
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


@pytest.mark.slow
async def test_the_console_lives_in_a_real_browser(
    site_factory: Any, idp: IdentityProvider, chromium: Chromium
) -> None:
    site = await site_factory(
        admins="root@example.com",
        concurrent_seats=3,
        named_seats=1,
        price_named=100,
        price_concurrent=140,
    )
    root = await signed_in(site, "root@example.com")
    context = await console_context(chromium, site, root, viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    await page.goto(site.url + "/_halo/admin")
    await wait_for(lambda: text_is(page, "#c-seats", "3"), "the pool's 3 slots")
    await wait_for(lambda: text_is(page, "#c-in-use", "1"), "root's slot in use")

    pat = await signed_in(site, "pat@example.com")
    await wait_for(lambda: text_is(page, "#c-in-use", "2"), "2 in use after a login")
    await pat.logout()
    await wait_for(lambda: text_is(page, "#c-in-use", "1"), "1 in use after a logout")

    sam = await signed_in(site, "sam@example.com")
    row = page.locator("#l-rows tr", has_text="sam@example.com")
    await row.wait_for()
    await row.get_by_role("button", name="End the session of sam@example.com").click()
    await wait_for(
        lambda: text_is(page, "#l-feedback", "Session ended; sam@example.com's licence is free."),
        "the end confirmed beside the table",
    )
    await row.wait_for(state="detached")
    assert (await sam.get("/whoami", headers=JSON)).status_code == 401

    await page.fill("#n-person", "nan@example.com")
    await page.get_by_role("button", name="Assign a seat").click()
    await page.locator("#n-people li", has_text="nan@example.com").wait_for()

    for email in ("amy@example.com", "ben@example.com"):
        await signed_in(site, email)
    await wait_for(lambda: text_is(page, "#c-in-use", "3"), "a full pool")
    await page.locator("#c-meter.full").wait_for()
    await page.locator("#chart path.peak").first.wait_for()
    await page.locator("#cost p").first.wait_for()
    assert await page.locator("#c-harvested").is_hidden()  # harvesting is off

    # A pool of 5,000 keeps a handful of round labels on the axis.
    await page.fill("#f-concurrent", "5000")
    await page.get_by_role("button", name="Save").click()
    await wait_for(lambda: text_is(page, "#c-seats", "5,000"), "the pool resized to 5,000")

    async def axis_is_round() -> bool:
        labels = await page.locator("#chart text").all_text_contents()
        ticks = [int(t.replace(",", "")) for t in labels if t.replace(",", "").isdigit()]
        return 5000 <= max(ticks) <= 10000 and len(ticks) <= 6 and all(t % 1000 == 0 for t in ticks)

    await wait_for(axis_is_round, "an axis up to 5,000")

    assert errors == []
    assert navigations == [site.url + "/_halo/admin"]  # every change came without a reload
    assert requested and all(url.startswith(site.url + "/_halo/") for url in requested), requested
    await context.close()


async def test_no_answer_of_the_console_api_or_own_routes_may_be_framed(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3)
    root = await signed_in(site, "root@example.com")
    token = await csrf(root)
    posted = await root.client.post(
        site.url + "/_halo/admin/capacity",
        data={"csrf_token": token, "concurrent_seats": "4"},
        headers={"origin": site.url},
    )
    answers = {
        "console": await root.get("/_halo/admin"),
        "console action": posted,
        "api": await root.get("/_halo/api/usage", headers=JSON),
        "metrics": await root.get("/_halo/metrics"),
        "me": await root.get("/_halo/me", headers=JSON),
        "sign-out page": await root.get("/_halo/logout"),
    }
    for name, answer in answers.items():
        assert answer.status_code in (200, 303), (name, answer.status_code)
        assert answer.headers.get("x-frame-options") == "DENY", name
        assert "frame-ancestors 'none'" in answer.headers.get("content-security-policy", ""), name


@pytest.mark.slow
async def test_the_console_says_the_recommendation_is_computing_then_shows_it(
    site_factory: Any, idp: IdentityProvider, chromium: Chromium
) -> None:
    site = await site_factory(
        admins="root@example.com", concurrent_seats=20, price_named=100, price_concurrent=140
    )
    root = await signed_in(site, "root@example.com")
    engine = site.engine
    people = [f"p{n}@example.com" for n in range(12)]
    for someone in people:
        await engine.admit(someone, someone)
    site.shift_clock(600)
    for someone in people:
        await engine.release(someone, someone)
    # Another worker is computing: it holds the installation's lock.
    lock = engine.keys.recommendation_lock
    await engine.store.set(lock, f"{int(await now(engine))} elsewhere", ex=60)
    context = await console_context(chromium, site, root)
    page = await context.new_page()
    await page.goto(site.url + "/_halo/admin")

    async def plan_says(text: str) -> bool:
        return text in (await page.text_content("#plan") or "")

    await wait_for(lambda: plan_says("Computing"), "the recommendation being computed")
    assert await plan_says("being computed from the sessions recorded since")
    assert "shown with the recommendation" in (await page.text_content("#cost") or "")
    # The other worker is gone: its lock is freed, and the console's next poll computes here.
    await engine.store.delete(lock)
    await wait_for(lambda: plan_says("Recommended"), "the recommended split", timeout=60)
    # Everyone was online at once, root too: a named seat each is cheaper than a slot each.
    assert await plan_says("13 named + 0 concurrent")
    assert "All 13 people seen as named" in (await page.text_content("#cost") or "")
    await context.close()


@pytest.mark.slow
async def test_the_console_shows_harvests_and_what_harvesting_saves(
    site_factory: Any, idp: IdentityProvider, chromium: Chromium
) -> None:
    site = await site_factory(
        admins="root@example.com",
        named_users="root@example.com",
        named_seats=1,
        concurrent_seats=1,
        harvest_idle=600,
        price_named=100,
        price_concurrent=140,
    )
    engine = site.engine
    # Five hours in each of which one person goes idle at once and, ten minutes later, yields
    # the only slot to another, who works five minutes.
    for hour in range(5):
        idler, worker = f"idle{hour}@example.com", f"busy{hour}@example.com"
        assert (await engine.admit(idler, idler)).admitted
        site.shift_clock(600)
        assert (await engine.admit(worker, worker)).harvested_sessions == (idler,)
        site.shift_clock(300)
        await engine.release(worker, worker)
        site.shift_clock(2700)
    root = await signed_in(site, "root@example.com")  # named: never harvested
    context = await console_context(chromium, site, root)
    page = await context.new_page()
    await page.goto(site.url + "/_halo/admin")
    await wait_for(lambda: text_is(page, "#c-harvested", "5"), "5 people harvested in 24 h")
    assert await page.locator("dt.harvested").is_visible()

    async def plan_says(text: str) -> bool:
        return text in (await page.text_content("#plan") or "")

    await wait_for(lambda: plan_says("Recommended"), "the recommended split", timeout=60)
    # The record already ends each idler's session when harvested: nothing more to save.
    assert await plan_says(
        "Harvesting: Harvesting after 10 minutes is on: with it, the sessions recorded needed "
        "no fewer slots than the split above.People to name"
    )

    # The audit log finds the harvests by their reason.
    await page.fill("#log-reason", "harvested")

    async def only_harvests() -> bool:
        rows = await page.locator("#log-rows tr").all_inner_texts()
        return len(rows) == 5 and all("ended" in row and "harvested" in row for row in rows)

    await wait_for(only_harvests, "the five harvests in the audit log")
    await context.close()
