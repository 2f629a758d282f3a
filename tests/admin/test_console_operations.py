"""The console as an operations console, in Chromium on a desktop and on a 390x844 phone:
people and their sessions, ending a licence so the person waiting gets in, the line and the
groups as the API has them, the audit log's filters, the time ranges, and the confirmations.
The screenshots in docs/ come from this test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import Page

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import Browser, Site, person

from .test_console import JSON, chromium, console_context, text_is, wait_for
from .test_licences import FIREFOX, PHONE

__all__ = ["chromium"]

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"


async def sign_in(site: Site, email: str, *groups: str, agent: str = FIREFOX) -> Browser:
    browser = site.browser(**{"user-agent": agent})
    await browser.login(person(site.idp, email, *groups), "/whoami")
    return browser


async def contains(page: Page, selector: str, text: str) -> bool:
    return text in (await page.text_content(selector) or "")


async def inside(page: Page, selector: str, width: int) -> bool:
    """Whether the element, scrolled into view, lies within the viewport's width."""
    target = page.locator(selector).first
    await target.scroll_into_view_if_needed()
    box = await target.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.slow
async def test_operations_console_on_a_desktop_and_a_phone(
    site_factory: Any, idp: IdentityProvider, chromium: Chromium
) -> None:
    site = await site_factory(
        admins="root@example.com",
        named_seats=1,
        named_users="root@example.com",
        concurrent_seats=3,
        pool_cap="finance=2",
        price_named=70,
        price_concurrent=140,
    )
    root = await sign_in(site, "root@example.com")
    await site.engine.resize(concurrent_seats=2, by="root@example.com")
    await sign_in(site, "carol@example.com", "finance")
    carol_phone = await sign_in(site, "carol@example.com", "finance", agent=PHONE)
    await sign_in(site, "bob@example.com", "finance")
    dave = await sign_in(site, "dave@example.com", "finance")
    assert (await dave.get("/whoami", headers=JSON)).status_code == 503

    context = await console_context(chromium, site, root, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(site.url + "/_halo/admin")
    instance = site.gate.settings.instance
    assert await text_is(page, "#installation", instance)
    assert instance in (await page.title())

    # People first: carol is one row with two sessions told apart by device.
    carol = page.locator("#l-rows tr", has_text="carol@example.com")
    await carol.wait_for()
    assert await carol.locator("ul.sessions li").count() == 2
    assert "Safari 17 on iPhone" in (await carol.text_content() or "")

    # The line and the groups, as the API has them.
    line = (await root.get("/_halo/api/queue", headers=JSON)).json()
    usage = (await root.get("/_halo/api/usage", headers=JSON)).json()
    await page.locator("#q-rows tr", has_text="dave@example.com").wait_for()
    cells = await page.locator("#q-rows tr").first.locator("td").all_text_contents()
    assert (
        cells[:3]
        == ["1", "dave@example.com", "finance"]
        == [
            str(line["waiting"][0]["position"]),
            line["waiting"][0]["person"],
            line["waiting"][0]["group"],
        ]
    )
    finance = usage["groups"]["finance"]
    group = await page.locator("#g-rows tr", has_text="finance").locator("td").all_text_contents()
    assert group == [
        "finance",
        str(finance["reserved"]),
        str(finance["cap"]),
        str(finance["in_use"]),
        str(finance["in_reserve"]),
        str(finance["in_shared"]),
        str(finance["denials_24h"]),
        str(line["groups"]["finance"]),
    ]

    # Ending one of carol's sessions says that her licence is still held.
    on_phone = carol.locator("ul.sessions li", has_text="iPhone")
    await on_phone.get_by_role("button").click()
    await wait_for(
        lambda: contains(page, "#l-feedback", "carol@example.com still holds a licence"),
        "the licence still held, beside the table",
    )
    assert (await carol_phone.get("/whoami", headers=JSON)).status_code == 401

    # Ending her licence asks first; the person waiting is let in at their next poll.
    end = carol.get_by_role("button", name="End the licence of carol@example.com")
    await end.click()
    assert "End carol@example.com's licence" in (await carol.locator(".ask").text_content() or "")
    await carol.get_by_role("button", name="Cancel").click()
    assert (await site.engine.usage()).in_use == 2
    await end.click()
    await carol.get_by_role("button", name="Yes, end licence").click()
    await wait_for(
        lambda: contains(page, "#l-feedback", "carol@example.com's licence is free"),
        "the licence ended, beside the table",
    )
    site.shift_clock(10)
    assert (await dave.get("/whoami", headers=JSON)).status_code == 200
    await page.locator("#l-rows tr", has_text="dave@example.com").wait_for()
    await page.locator("#q-empty").wait_for()

    # The audit log: newest first, filtered by person and by event.
    await page.fill("#log-person", "carol@example.com")

    async def only_carol() -> bool:
        people = await page.locator("#log-rows tr td:nth-child(3)").all_text_contents()
        return set(people) == {"carol@example.com"}

    await wait_for(only_carol, "carol's events alone")
    kinds = await page.locator("#log-rows tr td:nth-child(2)").all_text_contents()
    assert kinds[:2] == ["ended", "ended"] and kinds[-1] == "admitted"
    await page.fill("#log-person", "")
    await page.select_option("#log-event", "queued")
    await wait_for(lambda: contains(page, "#log-rows", "dave@example.com"), "dave queued")

    # Capacity as it was, with the change marked; 7 and 30 days.
    await page.locator("#chart line.change").first.wait_for(state="attached")
    await page.get_by_role("button", name="7 days").click()
    await wait_for(
        lambda: contains_attr(page, ".ranges button[data-range='7d']", "aria-pressed", "true"),
        "the 7 days pressed",
    )
    await page.locator("#chart path.capacity").wait_for()

    # Shrinking below use and taking a seat back both ask first.
    await page.fill("#f-concurrent", "1")
    await page.get_by_role("button", name="Save").click()
    assert "while 2 are in use" in (await page.locator("#capacity .ask").text_content() or "")
    await page.locator("#capacity").get_by_role("button", name="Cancel").click()
    await page.fill("#f-concurrent", "2")
    assert (await site.engine.usage()).concurrent_seats == 2
    seat = page.locator("#n-people li", has_text="root@example.com")
    await seat.get_by_role("button", name="Take the seat back").click()
    assert "cools down" in (await seat.locator(".ask").text_content() or "")
    await seat.get_by_role("button", name="Cancel").click()

    await page.get_by_role("button", name="24 hours").click()
    await page.locator("#cost p").first.wait_for()
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "console-desktop.png"), full_page=True)

    # A phone: the chart fits with its y axis in view, and every action is reachable.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.wait_for_timeout(400)
    box = await page.locator("#chart").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert await inside(page, "#chart text", 390)  # the first y-axis label
    for action in (
        "#l-rows button",
        "#n-people button",
        "#capacity button[type=submit]",
        "#n-person",
        ".ranges button[data-range='30d']",
        "#log-older",
    ):
        assert await inside(page, action, 390), action
    await page.screenshot(path=str(DOCS / "console-phone.png"), full_page=True)
    assert errors == []
    await context.close()


async def contains_attr(page: Page, selector: str, name: str, value: str) -> bool:
    return await page.get_attribute(selector, name) == value
