"""Department pools from the administrators' side: the capacity API, the console's form and
the console in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser as Chromium

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import person

from .test_api import call
from .test_api import signed_in as api_signed_in
from .test_console import JSON, chromium, console_context, csrf, signed_in, text_is, wait_for

__all__ = ["chromium"]


async def test_capacity_api_reads_and_changes_the_pool_rules(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(
        admins="root@example.com", concurrent_seats=10, pool_reserve="service-desk=2"
    )
    root = await api_signed_in(site, "root@example.com")
    read = (await call(root, "GET", "/_halo/api/capacity")).json()
    assert (read["pool_reserve"], read["pool_cap"]) == ("service-desk=2", "")

    changed = await call(
        root, "PUT", "/_halo/api/capacity", json={"pool_reserve": "service-desk=3,vip=1"}
    )
    assert changed.json() == {"pool_reserve": "service-desk=3,vip=1", "pool_cap": ""}
    both = await call(
        root,
        "PUT",
        "/_halo/api/capacity",
        json={"concurrent_seats": 12, "pool_cap": {"hr": 4}},
    )
    assert both.json() == {
        "concurrent_seats": 12,
        "named_seats": 0,
        "pool_reserve": "service-desk=3,vip=1",
        "pool_cap": "hr=4",
    }
    # Malformed rules are a bad request; rules that do not fit the pool, a conflict.
    for bad, status, words in (
        ({"pool_cap": "hr=four"}, 400, "pool_cap has value 'hr=four'. The entry 'hr=four' is not"),
        ({"pool_reserve": {"hr": 5}}, 409, "reservation of 5 slots for hr is above its cap of 4"),
        ({"pool_reserve": "a=10,b=3"}, 409, "add up to 13 slots, more than the pool's 12"),
        ({"pool_cap": 7}, 400, "pool_cap has value 7."),
    ):
        answer = await call(root, "PUT", "/_halo/api/capacity", json=bad)
        assert answer.status_code == status, bad
        assert words in answer.json()["message"], answer.json()
    groups = (await site.engine.usage()).groups
    assert (groups["service-desk"].reserved, groups["hr"].cap) == (3, 4)
    events = (await call(root, "GET", "/_halo/api/events?event=resized&limit=1")).json()
    assert events["events"][0]["reason"].startswith("root@example.com reserve=service-desk=3")

    # The gateway's own workers decide by the new rules at once.
    assert (await site.browser().login(person(idp, "h1@example.com", "hr"))).status_code == 200
    await site.engine.set_pools(cap="hr=1")
    refused = await site.browser().login(person(idp, "h2@example.com", "hr"), "/", **JSON)
    assert refused.json()["reason"] == "group_cap"


async def test_console_form_changes_and_removes_the_pool_rules(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=5, pool_cap="hr=2")
    root = await signed_in(site, "root@example.com")
    token = await csrf(root)
    url = site.url + "/_halo/admin/capacity"
    headers = {"origin": site.url, **JSON}
    done = await root.client.post(
        url, data={"csrf_token": token, "pool_reserve": "service-desk=1"}, headers=headers
    )
    assert done.json()["message"] == "Reserved for groups: service-desk=1; group caps: hr=2."
    removed = await root.client.post(
        url, data={"csrf_token": token, "pool_cap": "none"}, headers=headers
    )
    assert removed.json()["message"] == "Reserved for groups: service-desk=1; group caps: none."
    bad = await root.client.post(
        url, data={"csrf_token": token, "pool_reserve": "desk"}, headers=headers
    )
    assert bad.status_code == 400 and "is not group=N" in bad.json()["message"]
    assert (await site.engine.pools()).cap == ()


@pytest.mark.slow
async def test_the_console_shows_and_saves_the_pool_rules_in_a_browser(
    site_factory: Any, idp: IdentityProvider, chromium: Chromium
) -> None:
    site = await site_factory(
        admins="root@example.com", concurrent_seats=6, pool_reserve="vip=1", pool_cap="hr=3"
    )
    root = await signed_in(site, "root@example.com")
    context = await console_context(chromium, site, root)
    page = await context.new_page()
    await page.goto(site.url + "/_halo/admin")

    async def values(reserve: str, cap: str) -> bool:
        return (
            await page.input_value("#f-reserve") == reserve
            and await page.input_value("#f-cap") == cap
        )

    # The form holds the rules in force as its values, and sends only what was changed.
    await wait_for(lambda: values("vip=1", "hr=3"), "the rules in force")
    await page.fill("#f-cap", "hr=2,finance=1")
    await page.get_by_role("button", name="Save").click()
    await wait_for(
        lambda: text_is(
            page, "#capacity .feedback", "Reserved for groups: vip=1; group caps: hr=2,finance=1."
        ),
        "the change confirmed beside the form",
    )
    await wait_for(lambda: values("vip=1", "hr=2,finance=1"), "the new rules")
    assert (await site.engine.pools()).cap == (("hr", 2), ("finance", 1))
    await page.get_by_role("button", name="Save").click()
    await wait_for(
        lambda: text_is(page, "#capacity .feedback", "Nothing to save: change a value first."),
        "an unchanged form refused beside it",
    )
    await context.close()
