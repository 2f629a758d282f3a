"""The waiting room in a real headless browser (Debian's chromium driven by Playwright): signed in
through the real IdP's form while the pool is full, the page survives a reload, shows a place in
line that counts down, and takes the person into the application without a click.

Real time passes here (a browser's meta refresh cannot be moved by an injected clock): with a
grace and an offer of 8 s the page reloads itself every 2 s."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import Page

from halo_gate.cli.demo import IdentityProvider
from tests.admin.test_console import ARTEFACTS, chromium, wait_for  # noqa: F401 (a fixture)
from tests.gateway.conftest import Browser, person

pytestmark = pytest.mark.slow

JSON = {"accept": "application/json"}


async def shows(page: Page, testid: str, value: str) -> bool:
    try:
        text = await page.locator(f"[data-testid={testid}]").text_content(timeout=200)
    except Exception:  # the page is between two loads
        return False
    return (text or "").strip() == value


async def until_admitted(browser: Browser) -> None:
    async def admitted() -> bool:
        return (await browser.get("/whoami", headers=JSON)).status_code == 200

    await wait_for(admitted, "the waiter admitted", timeout=15)


async def test_the_waiting_page_counts_down_and_lets_the_person_in(
    site_factory: Any,
    idp: IdentityProvider,
    chromium: Chromium,  # noqa: F811
) -> None:
    site = await site_factory(concurrent_seats=1, queue_grace=8, queue_offer=8)
    holder = site.browser()
    assert (await holder.login(person(idp, "holder@example.com"), "/whoami")).status_code == 200
    first = site.browser()
    assert (await first.login(person(idp, "first@example.com"))).status_code == 503

    context = await chromium.new_context(viewport={"width": 800, "height": 700})
    page = await context.new_page()
    person(idp, "grace@example.com")
    await page.goto(site.url + "/reports")
    await page.fill("input[name=sub]", "grace@example.com")
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url(site.url + "/reports")
    assert await shows(page, "position", "2")
    assert await shows(page, "ahead", "1")

    # A reload of the waiting page works (the sign-in's callback is not replayed).
    reloaded = await page.reload()
    assert reloaded is not None and reloaded.status == 503
    assert page.url == site.url + "/reports"
    assert await shows(page, "position", "2")

    # The holder leaves; the first waiter takes the slot; the page counts down by itself.
    await holder.logout()
    await until_admitted(first)
    await wait_for(lambda: shows(page, "position", "1"), "place 1", timeout=15)
    ARTEFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTEFACTS / "waiting.png"), full_page=True)

    # The first waiter signs out: the page takes grace into the application, without a click.
    await first.logout()

    async def in_the_app() -> bool:
        try:
            body = await page.locator("body").text_content(timeout=200)
        except Exception:
            return False
        return (body or "").strip() == "page for grace@example.com"

    await wait_for(in_the_app, "the application's page", timeout=15)
    assert page.url == site.url + "/reports"
    usage = await site.engine.usage()
    assert (usage.in_use, usage.queue_length) == (1, 0)
    await context.close()
