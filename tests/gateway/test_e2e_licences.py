"""End to end: named seats, the concurrent pool, logout, idle expiry and ended sessions."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from halo_gate import HaloGate
from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import Server, make_app, person, site_settings
from tests.support import eventually


async def test_named_person_is_admitted_while_the_pool_is_full_and_on_a_second_device(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, named_seats=1, named_users="nina@example.com")
    nina = person(idp, "nina@example.com")
    first = await site.browser().login(person(idp, "pat@example.com"), "/whoami")
    assert first.json()["licence"] == "concurrent"
    refused = await site.browser().login(person(idp, "quinn@example.com"))
    assert refused.status_code == 503

    laptop, phone = site.browser(), site.browser()
    for device in (laptop, phone):
        response = await device.login(nina, "/whoami")
        assert response.status_code == 200
        assert response.json()["licence"] == "named"
        assert "licence:named" in response.json()["scopes"]
    usage = await site.engine.usage()
    assert (usage.in_use, usage.named_active) == (1, 1)


async def test_k_people_are_admitted_and_the_next_is_refused_with_503(
    site_factory: Any, idp: IdentityProvider
) -> None:
    k = 3
    # The plain refusal (HALO_GATE_QUEUE=off); test_e2e_queue.py has the waiting room.
    site = await site_factory(concurrent_seats=k, queue="off")
    for index in range(k):
        response = await site.browser().login(person(idp, f"user{index}@example.com"))
        assert response.status_code == 200, response.text

    html = await site.browser().login(person(idp, "late@example.com"))
    assert html.status_code == 503
    assert html.headers["content-type"].startswith("text/html")
    assert int(html.headers["retry-after"]) > 0
    assert f"All {k} concurrent licences are in use" in html.text
    # It retries the sign-in, not the callback whose code is spent.
    assert 'http-equiv="refresh" content="30; url=/_halo/login?next=%2F"' in html.text
    assert re.search(r"frees at the latest at <strong><time[^>]*>\d\d:\d\d:\d\d UTC", html.text)
    assert "/_halo/logout" in html.text

    api = await site.browser().login(
        person(idp, "later@example.com"), "/whoami", accept="application/json"
    )
    assert api.status_code == 503
    body = api.json()
    assert body == {
        "error": "pool_full",
        "reason": "pool_full",
        "group": None,
        "capacity": k,
        "in_use": k,
        "retry_after": int(api.headers["retry-after"]),
    }
    assert (await site.engine.usage()).in_use == k


async def test_logout_frees_the_slot_for_the_next_person_at_once(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, queue="off")
    first = site.browser()
    assert (await first.login(person(idp, "first@example.com"))).status_code == 200
    second = site.browser()
    assert (await second.login(person(idp, "second@example.com"))).status_code == 503

    stolen = first.session_cookie
    assert stolen is not None
    logout = await first.logout()
    assert logout.status_code == 303
    # RP-initiated logout: the IdP's end-session endpoint, coming back to the site.
    assert logout.headers["location"].startswith(idp.issuer + "/oauth2/end_session")
    assert first.session_cookie is None
    assert (await site.engine.usage()).in_use == 0

    assert (await second.login("second@example.com")).status_code == 200
    # The old cookie, replayed after logout, does not get back in: not in this worker, and not
    # in another one that never saw the logout, once its heartbeat asks the store.
    first.set_session_cookie(stolen)
    assert (await first.get("/")).status_code == 302
    other_gate = HaloGate(make_app(), **site_settings(site))
    other = Server(other_gate)
    other.start()
    try:
        site.shift_clock(61)
        other_gate.engine.clock_offset = site.gate.engine.clock_offset
        first.set_session_cookie(stolen)
        replay = await first.client.get(other.url + "/", headers={"accept": "text/html"})
        assert replay.status_code == 302
        assert replay.headers["location"].startswith("/_halo/login")
    finally:
        other.stop()


async def test_an_idle_session_frees_its_slot_by_ttl(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, idle_timeout=300, heartbeat_interval=60)
    idle = site.browser()
    assert (await idle.login(person(idp, "idle@example.com"))).status_code == 200
    waiting = site.browser()
    assert (await waiting.login(person(idp, "waiting@example.com"))).status_code == 503

    site.shift_clock(301)
    assert (await waiting.login("waiting@example.com")).status_code == 200
    # The idle person's cookie has expired with the session: back to login.
    response = await idle.get("/")
    assert response.status_code == 302
    assert response.headers["location"].startswith("/_halo/login")


async def test_a_session_ended_by_an_administrator_must_sign_in_again(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=2, heartbeat_interval=60)
    browser = site.browser()
    assert (await browser.login(person(idp, "ended@example.com"))).status_code == 200
    session = site.gate.codec.decode(browser.session_cookie)
    assert session is not None
    assert await site.engine.end_session("ended@example.com", by="admin@example.com") == 1
    # The announcement of who ended it reaches every worker (the page says an administrator).
    await eventually(lambda: site.gate.memory.ended(session.session_id), "the announcement")

    site.shift_clock(61)  # a heartbeat would be due too
    response = await browser.get("/")
    assert response.status_code == 401
    assert "An administrator ended your session" in response.text
    assert 'href="/_halo/login?next=%2F"' in response.text
    assert browser.session_cookie is None
    assert (await browser.get("/", follow_redirects=True)).url.path == "/oauth2/authorize"


async def test_passive_paths_are_served_without_renewing_anything(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, idle_timeout=300, heartbeat_interval=60)
    browser = site.browser()
    assert (await browser.login(person(idp, "poller@example.com"))).status_code == 200
    for _ in range(4):
        site.shift_clock(61)
        poll = await browser.get("/poll", headers={"accept": "application/json"})
        assert poll.status_code == 200
        assert "set-cookie" not in poll.headers
    # Four minutes of polling renewed nothing: the session idled out after five.
    site.shift_clock(61)
    assert (await browser.get("/poll", headers={"accept": "application/json"})).status_code == 401
    assert (await site.engine.usage()).in_use == 0


async def test_requests_between_heartbeats_make_no_store_call(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=2, heartbeat_interval=60)
    browser = site.browser()
    assert (await browser.login(person(idp, "counted@example.com"))).status_code == 200
    store = site.gate.store
    calls: list[str] = []
    original = store.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        calls.append(str(args[0]))
        return await original(*args, **options)

    store.execute_command = counting

    for _ in range(20):
        assert (await browser.get("/")).status_code == 200
    assert calls == []

    stale = browser.session_cookie
    assert stale is not None
    site.shift_clock(61)
    renewed = await browser.get("/")
    assert renewed.status_code == 200
    assert len(calls) == 1
    assert "set-cookie" in renewed.headers

    # A client that never stores the refreshed cookie costs no more round trips this interval.
    replayer = site.browser()
    replayer.set_session_cookie(stale)
    for _ in range(10):
        assert (await replayer.get("/")).status_code == 200
    assert len(calls) == 1

    site.shift_clock(61)
    for _ in range(5):
        assert (await replayer.get("/")).status_code == 200
    assert len(calls) == 2


async def test_concurrent_logins_admit_exactly_k(site_factory: Any, idp: IdentityProvider) -> None:
    k, people = 2, 6
    site = await site_factory(concurrent_seats=k)
    browsers = [site.browser() for _ in range(people)]
    forms = await asyncio.gather(*(browser.start_login() for browser in browsers))
    redirects = await asyncio.gather(
        *(
            browser.submit_idp_form(form, sub=person(idp, f"rush{index}@example.com"))
            for index, (browser, form) in enumerate(zip(browsers, forms, strict=True))
        )
    )
    finals = await asyncio.gather(
        *(
            browser.client.get(redirect.headers["location"], follow_redirects=True)
            for browser, redirect in zip(browsers, redirects, strict=True)
        )
    )
    statuses = sorted(response.status_code for response in finals)
    assert statuses == [200] * k + [503] * (people - k)
    assert (await site.engine.usage()).in_use == k


async def test_a_named_group_member_takes_a_free_named_seat_at_first_login(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, named_seats=1, named_groups="agents")
    first = await site.browser().login(person(idp, "agent1@example.com", "agents"), "/whoami")
    assert first.json()["licence"] == "named"
    second = await site.browser().login(person(idp, "agent2@example.com", "agents"), "/whoami")
    assert second.json()["licence"] == "concurrent"
    usage = await site.engine.usage()
    assert (usage.named_assigned, usage.in_use) == (1, 1)
