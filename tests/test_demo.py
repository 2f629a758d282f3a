"""The built-in identity provider speaks enough OpenID Connect for a real login."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from halo_gate.demo import IdentityProvider, Person, start_identity_provider

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
