"""``HALO_GATE_IDENTITY=jwt``: signed assertions checked against a JWKS endpoint the test serves."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.registry import HeaderParameter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from halo_gate import ConfigError, HaloGate
from halo_gate.identity.jwks import FETCHES_AT_ONCE
from halo_gate.identity.jwt import LEEWAY
from tests.gateway.conftest import SECRET, Server
from tests.identity.conftest import shower

HEADER = "X-Assertion"
AUDIENCE = "halo-app"
ISSUER = "https://proxy.example"


class KeyServer:
    """A JWKS endpoint whose published keys the test changes, counting the fetches.

    It also serves a key at ``/`` and ``/keys``, the paths ``/keys/..`` and ``/keys/.`` come to:
    a key anyone could have put somewhere on the proxy's key host.
    """

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.fetches = 0
        self.pem: dict[str, bytes] = {}
        self.elsewhere: bytes | None = None
        self.holding = threading.Event()  # while set, key requests wait
        routes = [
            Route("/jwks", self.jwks),
            Route("/keys/{kid}", self.pem_key),
            Route("/", self.other_key),
            Route("/keys", self.other_key),
        ]
        self.server = Server(Starlette(routes=routes))
        self.url = self.server.url + "/jwks"

    async def other_key(self, request: Request) -> Response:
        self.fetches += 1
        return Response(self.elsewhere, media_type="text/plain")

    async def jwks(self, request: Request) -> Response:
        self.fetches += 1
        return JSONResponse({"keys": self.published})

    async def pem_key(self, request: Request) -> Response:
        """AWS's form: one PEM public key per key id."""
        self.fetches += 1
        while self.holding.is_set():
            await asyncio.sleep(0.01)
        pem = self.pem.get(request.path_params["kid"])
        return Response(pem, media_type="text/plain") if pem else Response(status_code=404)

    def publish(self, *keys: ECKey | RSAKey) -> None:
        self.published = [key.as_dict(private=False) for key in keys]


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    server.server.start()
    yield server
    server.server.stop()


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "1234",
        "email": "Ann@Example.com",
        "groups": ["hr"],
        "iat": now,
        "exp": now + 300,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: Any, alg: str = "ES256", **changes: Any) -> str:
    header = {"alg": alg, "kid": key.kid}
    return jwt.encode(header, claims(**changes), key, algorithms=[alg])


def unsigned(kid: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': kid})}.{part(claims())}."


async def jwt_site(gateway: Any, keys: KeyServer, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "identity": "jwt",
        "jwt_header": HEADER,
        "jwt_jwks_url": keys.url,
        "jwt_audience": AUDIENCE,
        "jwt_issuer": ISSUER,
        "concurrent_seats": 1,
        **overrides,
    }
    return gateway(**settings)


async def ask(site: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(headers={"accept": "application/json"}) as client:
        return await client.get(site.url + "/whoami", headers={HEADER: token})


async def test_a_valid_assertion_admits_its_person(gateway: Any, keys: KeyServer) -> None:
    key = ec_key("k1")
    keys.publish(key)
    site = await jwt_site(gateway, keys)
    response = await ask(site, sign(key))
    assert response.status_code == 200, response.text
    assert response.json()["user"] == "ann@example.com"
    assert response.json()["groups"] == ["hr"]
    assert HEADER.lower() in response.json()["headers"]  # the app may read the assertion too
    # Within the allowed clock skew an expired assertion still passes; beyond it, never.
    late = await ask(site, sign(key, exp=int(time.time()) - LEEWAY // 2))
    assert late.status_code == 200
    assert (await site.engine.usage()).in_use == 1


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not_yet_valid",
        "issued_in_the_future",
        "wrong_audience",
        "wrong_issuer",
        "no_expiry",
        "another_key",
        "alg_none",
        "hmac_with_the_public_key",
        "not_a_token",
    ],
)
async def test_a_bad_assertion_is_refused_and_nobody_is_admitted(
    gateway: Any, keys: KeyServer, case: str
) -> None:
    key = ec_key("k1")
    keys.publish(key)
    site = await jwt_site(gateway, keys)
    now = int(time.time())
    forger = ec_key("k1")  # the same key id, another key
    public = OctKey.import_key(json.dumps(key.as_dict(private=False)).encode())
    tokens = {
        "expired": sign(key, exp=now - LEEWAY - 5),
        "not_yet_valid": sign(key, nbf=now + LEEWAY + 60),
        "issued_in_the_future": sign(key, iat=now + LEEWAY + 60),
        "wrong_audience": sign(key, aud="another-app"),
        "wrong_issuer": sign(key, iss="https://evil.example"),
        "no_expiry": sign(key, exp=None),
        "another_key": sign(forger),
        "alg_none": unsigned("k1"),
        "hmac_with_the_public_key": jwt.encode(
            {"alg": "HS256", "kid": "k1"}, claims(), public, algorithms=["HS256"]
        ),
        "not_a_token": "not.a.token",
    }
    response = await ask(site, tokens[case])
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_identity"
    assert (await site.engine.usage()).in_use == 0


MISSING = object()


@pytest.mark.parametrize(
    ("verified", "admitted"),
    [
        (True, True),
        (MISSING, True),  # the proxy's assertion says nothing: its own sign-in checked it
        (False, False),
        ("False", False),
        ("false", False),
        ("true", False),
        (None, False),
        (1, False),
    ],
    ids=["true", "absent", "false", "'False'", "'false'", "'true'", "null", "1"],
)
async def test_only_json_true_verifies_an_email_as_with_oidc(
    gateway: Any, keys: KeyServer, verified: object, admitted: bool
) -> None:
    key = ec_key("k1")
    keys.publish(key)
    site = await jwt_site(gateway, keys)
    body = claims()
    if verified is not MISSING:
        body["email_verified"] = verified
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, body, key, algorithms=["ES256"])
    response = await ask(site, token)
    assert response.status_code == (200 if admitted else 400), response.text
    assert (await site.engine.usage()).in_use == (1 if admitted else 0)


async def test_the_verified_email_waiver_applies_to_assertions_too(
    gateway: Any, keys: KeyServer
) -> None:
    key = ec_key("k1")
    keys.publish(key)
    site = await jwt_site(gateway, keys, require_verified_email=False)
    response = await ask(site, sign(key, email_verified="False"))
    assert response.status_code == 200, response.text


async def test_a_rotated_key_is_picked_up_without_restart_at_most_once_a_minute(
    gateway: Any, keys: KeyServer
) -> None:
    old, new = ec_key("old"), ec_key("new")
    keys.publish(old)
    site = await jwt_site(gateway, keys, concurrent_seats=2)
    assert (await ask(site, sign(old))).status_code == 200
    assert keys.fetches == 1

    keys.publish(old, new)
    # Unknown key ids within the minute do not hammer the endpoint.
    for _ in range(3):
        assert (await ask(site, sign(new, email="bob@x.org"))).status_code == 400
    assert keys.fetches == 1
    site.shift_clock(61)
    response = await ask(site, sign(new, email="bob@x.org"))
    assert response.status_code == 200, response.text
    assert response.json()["user"] == "bob@x.org"
    assert keys.fetches == 2


async def test_an_unreachable_key_endpoint_answers_503_not_a_login(gateway: Any) -> None:
    site = gateway(
        identity="jwt",
        jwt_header=HEADER,
        jwt_jwks_url="http://127.0.0.1:9/jwks",
        jwt_audience=AUDIENCE,
    )
    response = await ask(site, sign(ec_key("k1")))
    assert response.status_code == 503
    assert (await site.engine.usage()).in_use == 0


def test_presets_set_the_header_and_algorithms_and_bad_settings_stop_startup() -> None:
    base = {"secret_key": SECRET, "identity": "jwt", "jwt_jwks_url": "https://x/jwks"}
    gate = HaloGate(shower(), **base, jwt_audience="a", jwt_preset="cloudflare-access")
    source: Any = gate.identify.source
    assert source._header == b"cf-access-jwt-assertion"
    assert source.algorithms == ["RS256"]
    with pytest.raises(ConfigError, match="HALO_GATE_JWT_AUDIENCE is required"):
        HaloGate(shower(), **base, jwt_header=HEADER)
    with pytest.raises(ConfigError, match="HALO_GATE_JWT_ALGORITHMS has value 'HS256'"):
        HaloGate(shower(), **base, jwt_header=HEADER, jwt_audience="a", jwt_algorithms="HS256")
    with pytest.raises(ConfigError, match="'none' is not allowed"):
        HaloGate(shower(), **base, jwt_header=HEADER, jwt_audience="a", jwt_algorithms="none")
    with pytest.raises(ConfigError, match="HALO_GATE_JWT_PRESET has value 'okta'"):
        HaloGate(shower(), **base, jwt_audience="a", jwt_preset="okta")


async def test_aws_load_balancer_tokens_with_per_key_pem_and_the_signer_as_audience(
    gateway: Any, keys: KeyServer
) -> None:
    kid = "3b8a9b4e-alb"
    key = ec_key(kid)
    keys.pem[kid] = key.as_pem(private=False)
    balancer = "arn:aws:elasticloadbalancing:eu-west-1:123:loadbalancer/app/halo/1"
    site = await jwt_site(
        gateway,
        keys,
        jwt_header=None,
        jwt_preset="aws-alb",
        jwt_jwks_url=keys.server.url + "/keys/{kid}",
        jwt_audience=balancer,
    )

    def alb_token(signer: str, kid: str = kid) -> str:
        header = {"alg": "ES256", "kid": kid, "signer": signer, "client": "c", "typ": "JWT"}
        registry = JWSRegistry(
            header_registry={n: HeaderParameter(n, "str") for n in ("signer", "client")},
            algorithms=["ES256"],
        )
        token = jwt.encode(header, claims(aud=None), key, registry=registry)
        # The load balancer pads its base64 segments.
        return ".".join(part + "=" * (-len(part) % 4) for part in token.split("."))

    async def ask_alb(token: str) -> httpx.Response:
        async with httpx.AsyncClient(headers={"accept": "application/json"}) as client:
            return await client.get(site.url + "/", headers={"X-Amzn-Oidc-Data": token})

    admitted = await ask_alb(alb_token(balancer))
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["user"] == "ann@example.com"
    other = await ask_alb(alb_token("arn:aws:elasticloadbalancing:eu-west-1:123:other"))
    assert other.status_code == 400
    unknown = await ask_alb(alb_token(balancer, kid="../../etc"))
    assert unknown.status_code == 400
    assert keys.fetches == 1


BALANCER = "arn:aws:elasticloadbalancing:eu-west-1:123:loadbalancer/app/halo/1"


def alb_token(key: Any, kid: str, **changes: Any) -> str:
    header = {"alg": "ES256", "kid": kid, "signer": BALANCER, "client": "c", "typ": "JWT"}
    registry = JWSRegistry(
        header_registry={n: HeaderParameter(n, "str") for n in ("signer", "client")},
        algorithms=["ES256"],
    )
    return jwt.encode(header, claims(aud=None, **changes), key, registry=registry)


async def alb_site(gateway: Any, keys: KeyServer) -> Any:
    return await jwt_site(
        gateway,
        keys,
        jwt_header=None,
        jwt_preset="aws-alb",
        jwt_jwks_url=keys.server.url + "/keys/{kid}",
        jwt_audience=BALANCER,
        concurrent_seats=50,
    )


async def ask_alb(site: Any, token: str, client: httpx.AsyncClient | None = None) -> httpx.Response:
    if client is None:
        async with httpx.AsyncClient() as client:
            return await ask_alb(site, token, client)
    headers = {"accept": "application/json", "X-Amzn-Oidc-Data": token}
    return await client.get(site.url + "/", headers=headers)


@pytest.mark.parametrize("kid", [".", "..", "...", "%2e%2e", "..%2F..", "a/../..", "a\\.."])
async def test_aws_key_ids_naming_another_path_are_never_fetched(
    gateway: Any, keys: KeyServer, kid: str
) -> None:
    forger = ec_key(kid)
    keys.elsewhere = forger.as_pem(private=False)  # what ".../keys/.." would have found
    site = await alb_site(gateway, keys)
    response = await ask_alb(site, alb_token(forger, kid))
    assert response.status_code == 400, response.text
    assert keys.fetches == 0
    assert (await site.engine.usage()).in_use == 0


async def test_random_aws_key_ids_cannot_starve_a_new_valid_key(
    gateway: Any, keys: KeyServer
) -> None:
    """Ten tokens a second with random key ids, for twenty seconds of the gateway's clock: a
    valid token is admitted every second, also one signed by a key first seen mid-way."""
    first, rotated = ec_key("alb-1"), ec_key("alb-2")
    keys.pem["alb-1"] = first.as_pem(private=False)
    forger = ec_key("x")
    site = await alb_site(gateway, keys)
    admitted = 0
    async with httpx.AsyncClient() as client:
        for second in range(20):
            site.shift_clock(1)
            for _ in range(10):
                response = await ask_alb(site, alb_token(forger, uuid.uuid4().hex), client)
                assert response.status_code == 400
            if second == 10:
                keys.pem["alb-2"] = rotated.as_pem(private=False)
            key, kid = (first, "alb-1") if second < 10 else (rotated, "alb-2")
            valid = await ask_alb(site, alb_token(key, kid, sub=f"s{second}"), client)
            admitted += valid.status_code == 200
        assert admitted == 20
        assert keys.fetches == 200 + 2  # each id once

        # An id without a key is remembered as such for a minute: asked again, not fetched.
        replayed = alb_token(forger, "no-such-key")
        for _ in range(5):
            assert (await ask_alb(site, replayed, client)).status_code == 400
        assert keys.fetches == 203
        site.shift_clock(61)
        assert (await ask_alb(site, replayed, client)).status_code == 400
        assert keys.fetches == 204


async def test_aws_key_fetches_at_once_are_bounded(gateway: Any, keys: KeyServer) -> None:
    forger = ec_key("x")
    site = await alb_site(gateway, keys)
    keys.holding.set()
    try:
        waiting = [
            asyncio.create_task(ask_alb(site, alb_token(forger, f"held-{n}")))
            for n in range(FETCHES_AT_ONCE)
        ]
        for _ in range(500):
            if keys.fetches == FETCHES_AT_ONCE:
                break
            await asyncio.sleep(0.01)
        assert keys.fetches == FETCHES_AT_ONCE
        beyond = await ask_alb(site, alb_token(forger, "one-too-many"))
        assert beyond.status_code == 503
        assert keys.fetches == FETCHES_AT_ONCE
    finally:
        keys.holding.clear()
    assert [r.status_code for r in await asyncio.gather(*waiting)] == [400] * FETCHES_AT_ONCE
