"""End to end: forged and stale cookies, key rotation, open redirects and forged callbacks."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from halo_gate.cli.demo import IdentityProvider
from halo_gate.session import Session, SessionCodec, new_session_id
from tests.gateway.conftest import Server, Site, person, site_settings

OLD_KEY = "the-old-signing-key-0123456789"
NEW_KEY = "the-new-signing-key-0123456789"


async def mint(site: Site, keys: list[str], person_: str) -> str:
    """A cookie for a live session of ``person_``, signed with ``keys``."""
    session_id = new_session_id()
    decision = await site.engine.admit(person_, session_id)
    assert decision.admitted
    codec = SessionCodec(keys, max_age=site.gate.settings.idle_timeout, clock=site.gate.clock)
    session = Session(session_id, person_, "concurrent", int(site.gate.clock()))
    return codec.encode(session)


def is_login_redirect(response: httpx.Response) -> bool:
    return response.status_code == 302 and response.headers["location"].startswith(
        "/_halo/login?next="
    )


async def test_tampered_expired_and_foreign_key_cookies_lead_to_login(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5, idle_timeout=300, heartbeat_interval=60)
    browser = site.browser()
    assert (await browser.login(person(idp, "cookie@example.com"))).status_code == 200
    good = browser.session_cookie
    assert good is not None
    assert (await browser.get("/")).status_code == 200

    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    browser.set_session_cookie(tampered)
    assert is_login_redirect(await browser.get("/"))

    foreign = site.browser()
    foreign.set_session_cookie(
        await mint(site, ["some-other-key-0123456789"], "cookie@example.com")
    )
    assert is_login_redirect(await foreign.get("/"))

    browser.set_session_cookie(good)
    assert (await browser.get("/")).status_code == 200
    site.shift_clock(301)
    assert is_login_redirect(await browser.get("/"))


async def test_rotated_keys_keep_sessions_signed_with_an_older_key(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(
        concurrent_seats=5, secret_key=f"{NEW_KEY},{OLD_KEY}", heartbeat_interval=60
    )
    browser = site.browser()
    browser.set_session_cookie(await mint(site, [OLD_KEY], "rotated@example.com"))
    assert (await browser.get("/")).status_code == 200

    site.shift_clock(61)
    renewed = await browser.get("/whoami")
    assert renewed.json()["user"] == "rotated@example.com"
    # The renewed cookie is signed with the first key, so the old one can then be dropped.
    new_only = SessionCodec([NEW_KEY], max_age=1800, clock=site.gate.clock)
    assert new_only.decode(browser.session_cookie) is not None
    assert (
        SessionCodec([OLD_KEY], max_age=1800, clock=site.gate.clock).decode(browser.session_cookie)
        is None
    )


@pytest.mark.parametrize(
    "next_value",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "http:evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/_halo/login?next=/x",  # back to sign-in would loop
        "/_halo/logout",
    ],
)
async def test_next_never_leaves_the_site(
    site_factory: Any, idp: IdentityProvider, next_value: str
) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    response = await browser.login(
        person(idp, "next@example.com"), f"/_halo/login?next={quote(next_value, safe='')}"
    )
    assert response.status_code == 200
    assert str(response.url) == site.url + "/"


async def test_an_idp_error_gives_a_400_page_and_admits_nobody(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    form = await browser.start_login()
    redirect = await browser.submit_idp_form(form, action="deny")
    assert "error=access_denied" in redirect.headers["location"]
    response = await browser.client.get(redirect.headers["location"])
    assert response.status_code == 400
    assert "cancelled or refused at the identity provider" in response.text
    assert "Traceback" not in response.text
    assert browser.session_cookie is None
    assert (await site.engine.usage()).in_use == 0


async def test_a_mismatched_or_missing_state_gives_a_400_page(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    form = await browser.start_login()
    redirect = await browser.submit_idp_form(form, sub=person(idp, "state@example.com"))
    callback = redirect.headers["location"]
    forged = callback.replace("state=", "state=x")
    assert (await browser.client.get(forged)).status_code == 400
    no_state = await browser.get("/_halo/callback?code=abc")
    assert no_state.status_code == 400
    assert "Sign-in failed" in no_state.text
    assert browser.session_cookie is None
    assert (await site.engine.usage()).in_use == 0


async def test_a_replayed_code_gives_a_400_page(site_factory: Any, idp: IdentityProvider) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    form = await browser.start_login()
    redirect = await browser.submit_idp_form(form, sub=person(idp, "replay@example.com"))
    callback = redirect.headers["location"]
    transaction = browser.client.cookies.get("halo_session_login")
    assert transaction is not None

    assert (await browser.client.get(callback)).status_code == 302
    replayed = await browser.client.get(callback)
    assert replayed.status_code == 400

    # The same code, with the transaction cookie put back, in this worker and in another one
    # (which has not seen the state): both refused, the second by the IdP itself.
    other_gate = type(site.gate)(site.gate.app, **site_settings(site))
    other = Server(other_gate)
    other.start()
    try:
        for base in (site.url, other.url):
            attacker = site.browser()
            attacker.client.cookies.set(
                "halo_session_login", transaction, domain="127.0.0.1", path="/_halo"
            )
            url = base + callback[len(site.url) :]
            response = await attacker.client.get(url)
            assert response.status_code == 400, base
            assert attacker.session_cookie is None
    finally:
        other.stop()
    assert (await site.engine.usage()).in_use == 1


async def test_an_unverified_email_is_refused_with_403(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    response = await browser.login(person(idp, "unverified@example.com", verified=False))
    assert response.status_code == 403
    assert browser.session_cookie is None
    assert (await site.engine.usage()).in_use == 0


async def test_an_id_token_for_another_nonce_gives_a_400_page(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    form = await browser.start_login()
    query = dict(parse_qsl(form.url.query.decode()))
    assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]
    # The IdP signs an ID token for a nonce this login never sent.
    forged = form.url.copy_with(params={**query, "nonce": "someone-elses-nonce"})
    redirect = await browser.client.post(str(forged), data={"sub": person(idp, "n@example.com")})
    response = await browser.client.get(redirect.headers["location"])
    assert response.status_code == 400
    assert "could not be verified" in response.text
    assert browser.session_cookie is None
