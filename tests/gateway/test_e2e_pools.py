"""End to end: department pools through the gateway, from sign-in to the refusal's words."""

from __future__ import annotations

import hashlib
from typing import Any

from halo_gate.cli.demo import IdentityProvider
from tests.conftest import drop_instance
from tests.gateway.conftest import person

JSON = {"accept": "application/json"}


async def test_group_cap_refuses_with_free_slots_and_a_reservation_admits_when_shared_is_full(
    site_factory: Any, idp: IdentityProvider
) -> None:
    # The plain refusal pages (HALO_GATE_QUEUE=off); test_e2e_queue.py has the waiting room.
    site = await site_factory(
        queue="off",
        concurrent_seats=4,
        named_seats=1,
        named_users="root@example.com",
        admins="root@example.com",
        pool_reserve="service-desk=1",
        pool_cap="HR=1",
    )
    hr1 = await site.browser().login(person(idp, "hr1@example.com", "HR", "staff"), "/whoami")
    assert hr1.status_code == 200

    # HR holds its one slot: another HR person is refused while three slots are free.
    page = await site.browser().login(person(idp, "hr2@example.com", "HR"))
    assert page.status_code == 503
    assert int(page.headers["retry-after"]) > 0
    assert "HR already uses all 1 of its slots" in page.text
    api = await site.browser().login(person(idp, "hr3@example.com", "HR"), "/whoami", **JSON)
    assert api.status_code == 503
    body = api.json()
    assert body == {
        "error": "group_cap",
        "reason": "group_cap",
        "group": "HR",
        "capacity": 4,
        "in_use": 1,
        "retry_after": int(api.headers["retry-after"]),
        "group_cap": 1,
        "group_in_use": 1,
    }
    assert (await site.engine.usage()).in_use == 1

    # The shared part (4 - 1 reserved = 3 slots) fills up; the desk's slot stays free for it.
    for who in ("pat", "quinn"):
        assert (await site.browser().login(person(idp, f"{who}@example.com"))).status_code == 200
    refused = await site.browser().login(person(idp, "late@example.com"), "/whoami", **JSON)
    assert (refused.status_code, refused.json()["reason"], refused.json()["group"]) == (
        503,
        "pool_full",
        None,
    )
    full_page = await site.browser().login(person(idp, "later@example.com"))
    assert "All 3 shared concurrent licences are in use" in full_page.text
    desk = await site.browser().login(person(idp, "desk@example.com", "service-desk"), "/whoami")
    assert (desk.status_code, desk.json()["licence"]) == (200, "concurrent")

    admin = site.browser()
    assert (await admin.login(person(idp, "root@example.com"))).status_code == 200
    usage = (await admin.get("/_halo/api/usage", headers=JSON)).json()
    assert usage["concurrent"]["in_use"] == 4
    assert usage["groups"]["service-desk"] == {
        "reserved": 1,
        "cap": None,
        "in_use": 1,
        "in_reserve": 1,
        "in_shared": 0,
        "denials_24h": 0,
    }
    assert usage["groups"]["HR"] == {
        "reserved": 0,
        "cap": 1,
        "in_use": 1,
        "in_reserve": 0,
        "in_shared": 1,
        "denials_24h": 2,
    }


async def test_a_live_cap_change_reaches_the_gateway_at_the_next_admission(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5, pool_cap="finance=1", queue="off")
    assert (await site.browser().login(person(idp, "f1@example.com", "finance"))).status_code == 200
    refused = await site.browser().login(person(idp, "f2@example.com", "finance"))
    assert "Finance already uses all 1 of its slots" in refused.text

    await site.engine.set_pools(cap="finance=2,facilities=0", by="root@example.com")
    assert (await site.browser().login(person(idp, "f2@example.com", "finance"))).status_code == 200
    # A group the deployment never named is capped too, from the first admission after.
    facilities = await site.browser().login(person(idp, "fm@example.com", "facilities"))
    assert facilities.status_code == 503
    assert "Facilities already uses all 0 of its slots" in facilities.text


async def test_a_long_list_of_groups_keeps_the_pool_groups_in_the_cookie(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5, pool_cap="hr=1")
    # Far beyond the cookie's budget, even compressed: the cookie keeps only some of them.
    many = [hashlib.sha1(str(n).encode()).hexdigest() for n in range(200)]
    browser = site.browser()
    assert (await browser.login(person(idp, "h1@example.com", *many, "hr"))).status_code == 200
    me = (await browser.get("/_halo/me", headers=JSON)).json()
    assert "hr" in me["groups"] and len(me["groups"]) < 200
    # The store restarts empty: the session is readmitted at its next heartbeat from the
    # cookie alone, and still counts against HR's cap.
    await drop_instance(site.engine.store, site.gate.settings.instance)
    site.shift_clock(61)
    assert (await browser.get("/whoami", headers=JSON)).status_code == 200
    assert (await site.engine.usage()).groups["hr"].in_use == 1
    refused = await site.browser().login(person(idp, "h2@example.com", "hr"), "/", **JSON)
    assert refused.json()["reason"] == "group_cap"
