"""End to end: a browser signs in through the real IdP and a real uvicorn server."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import SECRET, person


async def test_browser_signs_in_and_reaches_the_page_it_asked_for(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=2)
    alice = person(idp, "Alice@Example.com", "agents")
    browser = site.browser()
    response = await browser.login(alice, "/whoami?x=1", accept="application/json")
    assert response.status_code == 200, response.text
    assert str(response.url) == site.url + "/whoami?x=1"
    assert response.json() == {
        "user": "alice@example.com",
        "licence": "concurrent",
        "groups": ["agents"],
        "scopes": ["authenticated", "licence:concurrent"],
    }
    me = await browser.get("/_halo/me")
    assert me.json()["user"] == "alice@example.com"
    assert me.json()["licence"] == "concurrent"
    cookie = browser.client.cookies.jar
    session = next(item for item in cookie if item.name == "halo_session")
    assert session.path == "/"
    assert session.has_nonstandard_attr("HttpOnly")
    assert len(session.value or "") < 1024


async def test_secrets_appear_in_no_page_and_no_log(
    site_factory: Any, idp: IdentityProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    site = await site_factory(concurrent_seats=1)
    pages = [await site.browser().login(person(idp, "one@example.com"))]
    pages.append(await site.browser().login(person(idp, "two@example.com")))  # pool full
    browser = site.browser()
    pages.append(await browser.get("/_halo/callback?state=x&code=y"))
    form = await browser.start_login()
    redirect = await browser.submit_idp_form(form, action="deny")
    pages.append(await browser.client.get(redirect.headers["location"]))
    assert [page.status_code for page in pages] == [200, 503, 400, 400]
    shown = caplog.text + "".join(page.text for page in pages) + repr(site.gate.settings)
    assert SECRET not in shown
    assert idp.client_secret not in shown
