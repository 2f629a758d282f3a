"""Security: an ended session is refused on every kind of path and every worker, within one
heartbeat interval; a public path never hands on an ended session as signed in."""

from __future__ import annotations

from typing import Any

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import Site, person, site_settings

JSON = {"accept": "application/json"}


async def signed_out_copy(site_factory: Any, idp: IdentityProvider, **overrides: Any) -> Any:
    """Two workers of one deployment; on the second, a copy of a cookie signed out on the first."""
    first: Site = await site_factory(concurrent_seats=5, admins="copy@example.com", **overrides)
    second: Site = await site_factory(**site_settings(first), admins="copy@example.com")
    browser = first.browser()
    assert (await browser.login(person(idp, "copy@example.com"))).status_code == 200
    stolen = browser.session_cookie
    assert stolen is not None
    thief = second.browser(**JSON)
    thief.set_session_cookie(stolen)
    # The copy works on the second worker before the sign-out: it saw the session live.
    assert (await thief.get("/poll")).json()["user"] == "copy@example.com"
    assert (await browser.logout()).status_code == 303
    return first, second, thief


async def test_a_signed_out_cookie_is_refused_on_passive_and_own_paths_of_another_worker(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first, second, thief = await signed_out_copy(site_factory, idp)
    for site in (first, second):
        site.shift_clock(65)  # past one heartbeat interval (60 s), far inside the idle timeout
    stolen = thief.session_cookie
    for path in ("/poll", "/_halo/me", "/_halo/api/usage"):
        thief.set_session_cookie(
            stolen or ""
        )  # as a script replaying it would, despite any clearing
        response = await thief.get(path)
        assert response.status_code == 401, (path, response.status_code, response.text)
        assert response.json()["error"] == "login_required"


async def test_a_signed_out_cookie_is_refused_after_a_worker_restart(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first, second, thief = await signed_out_copy(site_factory, idp)
    stolen = thief.session_cookie
    # A restarted worker remembers nothing; the cookie is still inside its idle timeout.
    restarted: Site = await site_factory(**site_settings(first))
    for site in (first, second, restarted):
        site.shift_clock(65)
    fresh = restarted.browser(accept="application/json")
    fresh.set_session_cookie(stolen or "")
    for path in ("/poll", "/_halo/me"):
        assert (await fresh.get(path)).status_code == 401, path


async def test_passive_paths_renew_nothing_but_serve_a_live_session(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site: Site = await site_factory(concurrent_seats=5, idle_timeout=300)
    browser = site.browser()
    assert (await browser.login(person(idp, "poller@example.com"))).status_code == 200
    site.shift_clock(65)
    response = await browser.get("/poll", headers=JSON)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers  # nothing renewed
    # The poll did not renew the slot: it still idles out 300 s after sign-in.
    site.shift_clock(240)
    assert (await site.engine.usage()).in_use == 0


async def test_a_public_path_does_not_present_an_ended_session_as_signed_in(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first, second, thief = await signed_out_copy(site_factory, idp)
    for site in (first, second):
        site.shift_clock(65)
    response = await thief.get("/public/whoami")
    assert response.status_code == 200
    assert response.json()["user"] is None
    assert response.json()["scopes"] == []


async def test_a_public_path_hands_on_a_live_session(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site: Site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    assert (await browser.login(person(idp, "reader@example.com"))).status_code == 200
    site.shift_clock(65)
    body = (await browser.get("/public/whoami", headers=JSON)).json()
    assert body["user"] == "reader@example.com"
    assert "authenticated" in body["scopes"]


async def test_an_administrator_end_is_refused_on_own_routes_within_an_interval(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site: Site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    assert (await browser.login(person(idp, "ended@example.com"))).status_code == 200
    assert (await browser.get("/_halo/me", headers=JSON)).status_code == 200
    assert await site.engine.end_session("ended@example.com", by="admin@example.com") == 1
    site.shift_clock(61)
    response = await browser.get("/_halo/me", headers=JSON)
    assert response.status_code == 401
    assert browser.session_cookie is None  # the cookie was cleared
