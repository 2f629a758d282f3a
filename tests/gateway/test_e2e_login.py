"""End to end: a browser signs in through the real IdP and a real uvicorn server."""

from __future__ import annotations

from typing import Any

from halo_gate.demo import IdentityProvider
from tests.gateway.conftest import person


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
    assert len(browser.session_cookie or "") < 1024
