"""The built-in identity provider speaks enough OpenID Connect for a real login."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from halo_gate.cli.demo import IdentityProvider, Person, start_identity_provider

REDIRECT_URI = "http://127.0.0.1:9/_halo/callback"


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with start_identity_provider(people=[Person("alice@example.com", "Alice", ("agents",))]) as idp:
        yield idp


def discover(client: httpx.Client, idp: IdentityProvider) -> dict[str, str]:
    response = client.get(f"{idp.issuer}/.well-known/openid-configuration")
    response.raise_for_status()
    metadata: dict[str, str] = response.json()
    return metadata


def authorization_params(idp: IdentityProvider, challenge: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": idp.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def authorize(client: httpx.Client, idp: IdentityProvider, sub: str) -> tuple[httpx.Response, str]:
    """Start a code flow with PKCE and post the provider's form as the person ``sub``."""
    metadata = discover(client, idp)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = authorization_params(idp, challenge.decode())
    form = client.get(metadata["authorization_endpoint"], params=params)
    assert form.status_code == 200
    assert 'name="sub"' in form.text
    return client.post(str(form.url), data={"sub": sub}), verifier


def test_discovery_names_the_issuer_it_is_reached_at(idp: IdentityProvider) -> None:
    with httpx.Client() as client:
        metadata = discover(client, idp)
    assert idp.issuer.startswith("http://127.0.0.1:")
    assert metadata["issuer"] == idp.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert metadata[endpoint].startswith(idp.issuer + "/")
    assert metadata["end_session_endpoint"] == f"{idp.issuer}/oauth2/end_session"


def test_code_flow_with_pkce_signs_the_person_in(idp: IdentityProvider) -> None:
    idp.set_user("bob@example.com", email="bob@example.com", email_verified=True, groups=["hr"])
    with httpx.Client() as client:
        metadata = discover(client, idp)
        redirect, verifier = authorize(client, idp, "bob@example.com")
        assert redirect.status_code == 302
        location = urlsplit(redirect.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        query = parse_qs(location.query)
        assert query["state"] == ["s-1"]

        token = client.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(idp.client_id, idp.client_secret),
        )
        assert token.status_code == 200, token.text
        tokens = token.json()
        keys = KeySet.import_key_set(client.get(metadata["jwks_uri"]).json())
        id_token = jwt.decode(tokens["id_token"], keys)
        assert id_token.claims["iss"] == idp.issuer
        assert idp.client_id in id_token.claims["aud"]
        assert id_token.claims["sub"] == "bob@example.com"
        assert id_token.claims["nonce"] == "n-1"

        userinfo = client.get(
            metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ).json()
    assert userinfo["email"] == "bob@example.com"
    assert userinfo["email_verified"] is True
    assert userinfo["groups"] == ["hr"]


def test_a_code_is_redeemed_once(idp: IdentityProvider) -> None:
    with httpx.Client() as client:
        metadata = discover(client, idp)
        redirect, verifier = authorize(client, idp, "alice@example.com")
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        auth = (idp.client_id, idp.client_secret)
        first = client.post(metadata["token_endpoint"], data=exchange, auth=auth)
        replayed = client.post(metadata["token_endpoint"], data=exchange, auth=auth)
    assert first.status_code == 200
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


def test_known_people_are_offered_with_their_claims(idp: IdentityProvider) -> None:
    with httpx.Client() as client:
        redirect, verifier = authorize(client, idp, "alice@example.com")
        metadata = discover(client, idp)
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        tokens = client.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(idp.client_id, idp.client_secret),
        ).json()
        userinfo = client.get(
            metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ).json()
    assert userinfo == {
        "sub": "alice@example.com",
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice",
        "groups": ["agents"],
    }


def test_a_request_without_nonce_is_refused(idp: IdentityProvider) -> None:
    params = authorization_params(idp, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    del params["nonce"]
    with httpx.Client() as client:
        metadata = discover(client, idp)
        redirect = client.get(metadata["authorization_endpoint"], params=params)
    assert redirect.status_code == 302
    assert parse_qs(urlsplit(redirect.headers["location"]).query)["error"] == ["invalid_request"]


def test_deny_answers_access_denied(idp: IdentityProvider) -> None:
    with httpx.Client() as client:
        metadata = discover(client, idp)
        form = client.get(
            metadata["authorization_endpoint"],
            params={
                "response_type": "code",
                "client_id": idp.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid",
                "state": "s-2",
                "nonce": "n-2",
            },
        )
        denied = client.post(str(form.url), data={"action": "deny"})
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]


def test_stop_closes_the_port() -> None:
    idp = start_identity_provider()
    idp.stop()
    with pytest.raises(httpx.ConnectError), httpx.Client() as client:
        client.get(f"{idp.issuer}/.well-known/openid-configuration")


def sign_in_to_demo(base: str, sub: str) -> tuple[httpx.Client, httpx.Response]:
    """A browser signed in at the demo, and the callback's answer."""
    browser = httpx.Client(base_url=base, timeout=10)
    to_provider = browser.get("/_halo/login", params={"next": "/"})
    back = browser.post(to_provider.headers["location"], data={"sub": sub})
    return browser, browser.get(urljoin(base, back.headers["location"]))


def log_out(browser: httpx.Client) -> None:
    page = browser.get("/_halo/logout", headers={"Accept": "text/html"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    origin = str(browser.base_url).rstrip("/")
    done = browser.post(
        "/_halo/logout", data={"csrf_token": token.group(1)}, headers={"Origin": origin}
    )
    assert done.status_code == 303


def test_demo_command_serves_the_scenario_it_prints() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "halo_gate.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        banner = demo.stdout.readline() + demo.stdout.readline() + demo.stdout.readline()
        found = re.search(r"open (http://127\.0\.0\.1:\d+)/", banner)
        assert found, banner
        base = found.group(1)
        provider = re.search(r"Identity provider: (http://\S+)", banner)
        assert provider, banner

        assert httpx.get(base + "/_halo/health").text == "ok"
        stranger = httpx.get(base + "/", headers={"Accept": "text/html"})
        assert stranger.status_code == 302
        assert stranger.headers["location"] == "/_halo/login?next=%2F"

        browsers = {}
        for sub in ("bob@example.com", "carol@example.com", "alice@example.com"):
            browsers[sub], landed = sign_in_to_demo(base, sub)
            assert landed.status_code == 302
        assert browsers["alice@example.com"].get("/api/whoami").json()["licence"] == "named"
        assert browsers["bob@example.com"].get("/api/whoami").json()["licence"] == "concurrent"

        usage = browsers["alice@example.com"].get("/_halo/api/usage").json()
        assert usage["concurrent"]["seats"] == 2
        assert usage["concurrent"]["in_use"] == 2
        assert usage["named"]["active"] == 1

        # The pool is full: Dave is signed in as a waiter, sent on, and waits in line there.
        dave, waiting = sign_in_to_demo(base, "dave@example.com")
        assert waiting.status_code == 302
        refused = dave.get("/api/whoami")
        assert refused.status_code == 503
        assert (refused.json()["capacity"], refused.json()["position"]) == (2, 1)
        dave.close()

        log_out(browsers["bob@example.com"])
        dave, landed = sign_in_to_demo(base, "dave@example.com")
        assert landed.status_code == 302
        assert dave.get("/api/whoami").json()["user"] == "dave@example.com"
        for browser in [*browsers.values(), dave]:
            browser.close()
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=15) == 0
        assert demo.stdout is not None and demo.stderr is not None
        demo.stdout.close()
        demo.stderr.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(provider.group(1) + "/.well-known/openid-configuration")
