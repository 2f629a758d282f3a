"""Security at sign-in: strict claims, pinned ID token algorithms, callbacks spent on every
worker, and no text of the IdP's (or a stranger's) on the site's own pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import Server, Site, site_settings
from tests.gateway.rogue_idp import CLIENT_ID, CLIENT_SECRET, RogueProvider


@pytest.fixture
def rogue() -> Iterator[RogueProvider]:
    provider = RogueProvider()
    server = Server(provider.app())
    provider.issuer = server.url
    server.start()
    yield provider
    server.stop()


def rogue_settings(rogue: RogueProvider) -> dict[str, Any]:
    return {
        "oidc_issuer": rogue.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
    }


async def rogue_callback(site: Site, client: httpx.AsyncClient) -> tuple[str, str]:
    """Start a sign-in at ``site`` and follow the rogue IdP; the callback URL and the login
    transaction cookie that goes with it."""
    start = await client.get(urljoin(site.url, "/_halo/login?next=/whoami"))
    transaction = start.cookies[site.gate.routes.transaction_cookie]
    authorize = await client.get(start.headers["location"])
    return authorize.headers["location"], transaction


@pytest.mark.parametrize("verified", [None, "absent", "False", "true", 1])
async def test_an_email_not_verified_as_json_true_is_refused(
    site_factory: Any, idp: IdentityProvider, verified: Any
) -> None:
    site = await site_factory(concurrent_seats=5, named_seats=1, admins="boss@example.com")
    await site.engine.assign("boss@example.com")
    claims: dict[str, Any] = {"email": "BOSS@example.com", "groups": []}
    if verified != "absent":
        claims["email_verified"] = verified
    idp.set_user("impostor", **claims)
    browser = site.browser()
    response = await browser.login("impostor")
    assert response.status_code == 403
    assert browser.session_cookie is None
    usage = await site.engine.usage()
    assert usage.named_active == 0 and usage.in_use == 0


async def test_unverified_email_is_accepted_only_when_waived(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=5, require_verified_email=False)
    idp.set_user("plain", email="plain@example.com")
    response = await site.browser().login("plain", "/whoami")
    assert response.status_code == 200
    assert response.json()["user"] == "plain@example.com"


@pytest.mark.parametrize("groups", [42, True, {"a": 1}, ["ok", 7]])
async def test_a_malformed_groups_claim_fails_the_sign_in_with_a_400_page(
    site_factory: Any, idp: IdentityProvider, groups: Any
) -> None:
    site = await site_factory(concurrent_seats=5)
    idp.set_user("grouped", email="grouped@example.com", email_verified=True, groups=groups)
    browser = site.browser()
    response = await browser.login("grouped")
    assert response.status_code == 400
    assert "groups" in response.text and "Traceback" not in response.text
    assert browser.session_cookie is None
    assert (await site.engine.usage()).in_use == 0


# joserfc warns about "none" where it would accept it; as in production, a warning is no refusal.
@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
async def test_an_unsigned_id_token_is_refused_even_when_discovery_lists_none(
    site_factory: Any, rogue: RogueProvider
) -> None:
    site = await site_factory(concurrent_seats=5, **rogue_settings(rogue))
    async with httpx.AsyncClient(headers={"accept": "text/html"}) as client:
        callback, _ = await rogue_callback(site, client)
        assert (await client.get(callback)).status_code == 302  # signed: admitted
    rogue.unsigned = True
    async with httpx.AsyncClient(headers={"accept": "text/html"}) as client:
        callback, _ = await rogue_callback(site, client)
        response = await client.get(callback)
    assert response.status_code == 400
    assert "could not be verified" in response.text
    assert (await site.engine.usage()).in_use == 1  # only the signed sign-in


async def test_a_callback_replayed_to_another_worker_is_refused(
    site_factory: Any, rogue: RogueProvider
) -> None:
    first = await site_factory(concurrent_seats=5, **rogue_settings(rogue))
    second = await site_factory(**site_settings(first))
    async with httpx.AsyncClient(headers={"accept": "text/html"}) as client:
        callback, transaction = await rogue_callback(first, client)
        assert (await client.get(callback)).status_code == 302
    replay = callback.replace(first.url, second.url)
    cookie = {"cookie": f"{first.gate.routes.transaction_cookie}={transaction}"}
    async with httpx.AsyncClient(headers={"accept": "text/html", **cookie}) as client:
        response = await client.get(replay)
    assert response.status_code == 400
    assert "used already" in response.text
    assert rogue.tokens_issued == 1  # refused before the code was exchanged again
    sessions = await first.engine.store.hlen(first.engine.keys.sessions("rogue@example.com"))
    assert sessions == 1


async def test_the_idps_error_description_is_never_shown(site_factory: Any) -> None:
    site = await site_factory(concurrent_seats=5)
    browser = site.browser()
    response = await browser.get(
        "/_halo/callback?error=x&error_description=Your+account+is+locked.+Call+0800+123"
    )
    assert response.status_code == 400
    assert "locked" not in response.text and "0800" not in response.text
    assert "refused the sign-in" in response.text
