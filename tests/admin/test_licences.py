"""Licence holders, people first: the licences API, ending a session or a whole licence, and a
sign-out that tells the truth about the person's other sessions."""

from __future__ import annotations

from typing import Any

from halo_gate.admin.people import device
from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import Browser, Site, person
from tests.support import CSRF_FIELD

from .test_api import call, signed_in

JSON = {"accept": "application/json"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


async def from_device(site: Site, email: str, agent: str) -> Browser:
    browser = site.browser(**{"user-agent": agent})
    assert (await browser.login(person(site.idp, email), "/whoami")).status_code == 200
    return browser


async def licences(root: Browser, query: str = "") -> dict[str, Any]:
    answer = await call(root, "GET", "/_halo/api/licences" + query)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_device_names_the_browser_and_its_system() -> None:
    assert device(FIREFOX) == "Firefox 128 on Linux"
    assert device(PHONE) == "Safari 17 on iPhone"
    edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 Edg/126.0"
    assert device(edge) == "Edge 126 on Windows"
    assert device("curl/8.5.0") == "curl/8.5.0"
    assert device("") == "unknown"


async def test_a_person_with_two_sessions_is_one_licence_holder(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=3, named_seats=1)
    root = await signed_in(site, "root@example.com")
    await from_device(site, "carol@example.com", FIREFOX)
    await from_device(site, "carol@example.com", PHONE)

    found = await licences(root)
    assert found["total"] == 2 and found["offset"] == 0 and found["limit"] == 50
    assert found["now"] > 0
    carol = next(h for h in found["licences"] if h["person"] == "carol@example.com")
    assert carol["licence"] == "concurrent" and carol["group"] is None
    assert sorted(s["device"] for s in carol["sessions"]) == [
        "Firefox 128 on Linux",
        "Safari 17 on iPhone",
    ]
    assert {s["address"] for s in carol["sessions"]} == {"127.0.0.1"}
    assert carol["since"] == min(s["since"] for s in carol["sessions"])
    assert carol["last_activity"] == max(s["last_seen"] for s in carol["sessions"])
    assert set(carol["sessions"][0]) >= {"session_id", "device", "address", "since", "last_seen"}

    # A search and a page each count people, not sessions.
    assert [h["person"] for h in (await licences(root, "?search=CAR"))["licences"]] == [
        "carol@example.com"
    ]
    assert (await licences(root, "?search=nobody"))["total"] == 0
    first = await licences(root, "?limit=1")
    second = await licences(root, "?limit=1&offset=1")
    assert first["total"] == second["total"] == 2
    assert {first["licences"][0]["person"], second["licences"][0]["person"]} == {
        "root@example.com",
        "carol@example.com",
    }


async def test_ending_one_session_says_the_licence_is_still_held(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=2)
    root = await signed_in(site, "root@example.com")
    laptop = await from_device(site, "carol@example.com", FIREFOX)
    phone = await from_device(site, "carol@example.com", PHONE)
    carol = next(h for h in (await licences(root))["licences"] if h["person"].startswith("carol"))
    on_phone = next(s for s in carol["sessions"] if s["device"].endswith("iPhone"))

    answer = await call(root, "DELETE", f"/_halo/api/sessions/{on_phone['session_id']}")
    assert answer.status_code == 200
    assert answer.json() == {
        "ended": on_phone["session_id"],
        "person": "carol@example.com",
        "licence_held": True,
        "sessions_left": 1,
    }
    assert (await phone.get("/whoami", headers=JSON)).status_code == 401
    assert (await laptop.get("/whoami", headers=JSON)).status_code == 200
    assert (await site.engine.usage()).in_use == 2
    gone = await call(root, "DELETE", f"/_halo/api/sessions/{on_phone['session_id']}")
    assert gone.status_code == 404


async def test_ending_a_licence_frees_the_slot_for_the_person_waiting(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(admins="root@example.com", concurrent_seats=2)
    root = await signed_in(site, "root@example.com")
    laptop = await from_device(site, "carol@example.com", FIREFOX)
    phone = await from_device(site, "carol@example.com", PHONE)
    dave = site.browser()
    assert (await dave.login(person(idp, "dave@example.com"))).status_code == 503

    answer = await call(root, "DELETE", "/_halo/api/licences/Carol@Example.com")
    assert answer.status_code == 200
    assert answer.json() == {
        "person": "carol@example.com",
        "licence": "concurrent",
        "sessions_ended": 2,
    }
    for browser in (laptop, phone):
        assert (await browser.get("/whoami", headers=JSON)).status_code == 401
    # The person waiting is let in at their next poll (a worker holds a refusal for a few
    # seconds at most).
    site.shift_clock(10)
    assert (await dave.get("/whoami", headers=JSON)).status_code == 200
    # The most recently active first.
    assert [h["person"] for h in (await licences(root))["licences"]] == [
        "dave@example.com",
        "root@example.com",
    ]
    missing = await call(root, "DELETE", "/_halo/api/licences/carol@example.com")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    events = (await call(root, "GET", "/_halo/api/events?person=carol@example.com")).json()
    assert [e["event"] for e in events["events"][:2]] == ["ended", "ended"]


async def sign_out_page(browser: Browser) -> tuple[str, str]:
    page = await browser.get("/_halo/logout")
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return page.text, found.group(1)


async def test_sign_out_says_when_other_sessions_keep_the_licence(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=2)
    laptop = await from_device(site, "bob@example.com", FIREFOX)
    phone = await from_device(site, "bob@example.com", PHONE)
    text, token = await sign_out_page(laptop)
    assert "also signed in on 1 other device" in text and "Sign out everywhere" in text
    # Signing out here only keeps the licence for the phone.
    answer = await laptop.client.post(
        site.url + "/_halo/logout", data={"csrf_token": token}, headers={"origin": site.url}
    )
    assert answer.status_code == 303
    assert (await site.engine.usage()).in_use == 1
    text, token = await sign_out_page(phone)
    assert "frees your licence" in text and "everywhere" not in text

    again = await from_device(site, "bob@example.com", FIREFOX)
    text, token = await sign_out_page(again)
    assert "Sign out everywhere" in text
    answer = await again.client.post(
        site.url + "/_halo/logout",
        data={"csrf_token": token, "everywhere": "1"},
        headers={"origin": site.url},
    )
    assert answer.status_code == 303
    assert (await site.engine.usage()).in_use == 0
    assert (await phone.get("/whoami", headers=JSON)).status_code == 401
