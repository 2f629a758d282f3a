"""``request.user.display_name`` is what the identity provider calls the person: the ``name``
claim, or the claim HALO_GATE_NAME_CLAIM names; the identity when there is none."""

from __future__ import annotations

from typing import Any

from halo_gate.cli.demo import IdentityProvider


async def test_display_name_comes_from_the_name_claim(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5)
    idp.set_user("nia@example.com", email="nia@example.com", email_verified=True, name="Nia Ramos")
    named = site.browser()
    page = await named.login("nia@example.com", "/")
    assert page.text == "page for Nia Ramos"
    # Kept in the cookie: a later request, after a heartbeat, still says so.
    site.shift_clock(120)
    assert (await named.get("/")).text == "page for Nia Ramos"

    idp.set_user("oz@example.com", email="oz@example.com", email_verified=True)
    plain = site.browser()
    assert (await plain.login("oz@example.com", "/")).text == "page for oz@example.com"


async def test_a_setting_names_another_claim(site_factory: Any, idp: IdentityProvider) -> None:
    site = await site_factory(concurrent_seats=5, name_claim="nickname")
    idp.set_user(
        "pat@example.com",
        email="pat@example.com",
        email_verified=True,
        name="Patricia Long",
        nickname="Pat",
    )
    assert (await site.browser().login("pat@example.com", "/")).text == "page for Pat"
