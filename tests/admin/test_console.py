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
from playwright.async_api import Page, async_playwright

from halo_gate.demo import IdentityProvider
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
    assert bad.status_code == 303 and "message=" in bad.headers["location"]
    shown = await root.get(bad.headers["location"])
    assert "concurrent_seats has value &#39;many&#39;" in shown.text
    assert "default-src 'none'" in shown.headers["content-security-policy"]
    assert (await site.engine.usage()).concurrent_seats == 9


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
    context = await chromium.new_context(viewport={"width": 1200, "height": 900})
    await context.add_cookies(
        [
            {"name": name, "value": value, "url": site.url}
            for name, value in root.client.cookies.items()
        ]
    )
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    await page.goto(site.url + "/_halo/admin")
    await wait_for(lambda: text_is(page, "#c-seats", "3"), "the pool's 3 slots")
    await wait_for(lambda: text_is(page, "#c-in-use", "1"), "root's slot in use")

    pat = await signed_in(site, "pat@example.com")
    await wait_for(lambda: text_is(page, "#c-in-use", "2"), "2 in use after a login")
    await pat.logout()
    await wait_for(lambda: text_is(page, "#c-in-use", "1"), "1 in use after a logout")

    sam = await signed_in(site, "sam@example.com")
    row = page.locator("#s-rows tr", has_text="sam@example.com")
    await row.wait_for()
    await row.get_by_role("button", name="End the session of sam@example.com").click()
    await wait_for(lambda: text_is(page, "#status", "Session ended."), "the end confirmed")
    await row.wait_for(state="detached")
    assert (await sam.get("/whoami", headers=JSON)).status_code == 401

    await page.fill("input[name=person]", "nan@example.com")
    await page.get_by_role("button", name="Assign a seat").click()
    await page.locator("#n-people li", has_text="nan@example.com").wait_for()

    for email in ("amy@example.com", "ben@example.com"):
        await signed_in(site, email)
    await wait_for(lambda: text_is(page, "#c-in-use", "3"), "a full pool")
    await page.locator("#c-meter.full").wait_for()
    await page.locator("#chart-day path").first.wait_for()
    await page.locator("#cost p").first.wait_for()
    ARTEFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTEFACTS / "console.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(ARTEFACTS / "console-phone.png"), full_page=True)

    # A pool of 5,000 keeps a handful of round labels on the axis.
    await page.fill("#f-concurrent", "5000")
    await page.get_by_role("button", name="Save").click()
    await wait_for(lambda: text_is(page, "#c-seats", "5,000"), "the pool resized to 5,000")

    async def axis_is_round() -> bool:
        labels = await page.locator("#chart-day text").all_text_contents()
        ticks = [int(t.replace(",", "")) for t in labels if t.replace(",", "").isdigit()]
        return 5000 <= max(ticks) <= 10000 and len(ticks) <= 6 and all(t % 1000 == 0 for t in ticks)

    await wait_for(axis_is_round, "an axis up to 5,000")

    assert navigations == [site.url + "/_halo/admin"]  # every change came without a reload
    assert requested and all(url.startswith(site.url + "/_halo/") for url in requested), requested
    await context.close()


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
    context = await chromium.new_context()
    await context.add_cookies(
        [
            {"name": name, "value": value, "url": site.url}
            for name, value in root.client.cookies.items()
        ]
    )
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
