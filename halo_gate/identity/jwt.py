"""``HALO_GATE_IDENTITY=jwt``: the person from an identity-aware proxy's signed assertion.

joserfc verifies the signature with the proxy's published keys and the claims: ``exp``,
``nbf`` and ``iat`` with at most ``LEEWAY`` seconds of clock skew, the audience (required) and
the issuer (when set). Only asymmetric algorithms are accepted, and only asymmetric keys are
taken from the key set, so neither ``alg: none`` nor an HMAC "signed" with the public key can
pass. Keys are cached and fetched again when a token names an unknown ``kid`` (at most once a
minute) or when they are an hour old, so key rotation needs no restart. A verified token is
remembered until it expires, so the check on each request is usually one dict lookup.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Callable
from typing import Any, Literal

import httpx2
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry
from joserfc.registry import HeaderParameter
from starlette.types import ASGIApp, Scope

from ..config import Settings
from . import Person, Refused, SourceUnavailable, Unnamed, person_of
from .claims import email_unverified
from .settings import DEFAULT_ALGORITHMS, PRESETS

logger = logging.getLogger("halo_gate.identity")

LEEWAY = 30
REFETCH_AFTER = 60.0  # at most one fetch a minute for unknown key ids
KEYS_MAX_AGE = 3600.0  # keys dropped from the set stop being trusted within this time
FETCH_TIMEOUT = 5.0
TOKENS_KEPT = 10_000
ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})
# A key id that may go into a URL (AWS publishes one PEM key per id at ".../{kid}").
SAFE_KID = re.compile(r"[A-Za-z0-9._-]{1,128}")
KeyType = Literal["RSA", "EC", "OKP"]
PEM_KEYS: dict[KeyType, type[ECKey] | type[RSAKey] | type[OKPKey]] = {
    "EC": ECKey,
    "RSA": RSAKey,
    "OKP": OKPKey,
}


def _header(value: str) -> dict[str, Any]:
    """The token's (unverified) header: only to know which key to fetch."""
    first = value.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


def _key_type(alg: object) -> KeyType:
    if isinstance(alg, str) and alg.startswith("ES"):
        return "EC"
    return "OKP" if alg == "EdDSA" else "RSA"


Clock = Callable[[], float]


class JWTSource:
    unnamed: Unnamed = "unidentified"

    def __init__(self, settings: Settings, clock: Clock) -> None:
        preset = PRESETS.get(settings.jwt_preset or "")
        header = settings.jwt_header or (preset[0] if preset else "")
        self._header = header.lower().encode("latin-1")
        self.algorithms = list(settings.jwt_algorithms or (preset[1] if preset else ()))
        self.algorithms = self.algorithms or list(DEFAULT_ALGORITHMS)
        assert settings.jwt_jwks_url is not None  # checked with the settings
        self._url = settings.jwt_jwks_url
        self._audience = list(settings.jwt_audience)
        # AWS's load balancer puts no audience in its tokens; its header names the balancer.
        self._audience_in_header = "signer" if settings.jwt_preset == "aws-alb" else None
        claims: dict[str, Any] = {"exp": {"essential": True}}
        if self._audience_in_header is None:
            claims["aud"] = {"essential": True, "values": self._audience}
        if settings.jwt_issuer is not None:
            claims["iss"] = {"essential": True, "value": settings.jwt_issuer}
        # AWS's load balancer adds its own header fields, which joserfc refuses unless named.
        extra = {
            name: HeaderParameter(name, "str")
            for name in ("signer", "client", "iss", "exp")
            if settings.jwt_preset == "aws-alb"
        }
        self._registry = JWSRegistry(header_registry=extra, algorithms=self.algorithms)
        self._claims = JWTClaimsRegistry(now=lambda: int(clock()), leeway=LEEWAY, **claims)
        self._user_claim = settings.user_claim
        self._verified_email_required = settings.require_verified_email
        self._groups_claim = settings.groups_claim
        self._clock = clock
        self._keys = KeySet([])
        self._fetched_at: float | None = None
        self._fetch_lock = asyncio.Lock()
        self._tokens: dict[bytes, tuple[Person, float]] = {}

    async def identify(self, scope: Scope) -> Person | None:
        token = None
        for name, value in scope["headers"]:
            if name == self._header:
                if token is not None:
                    raise Refused(f"the header {name.decode()} is repeated")
                token = value
        if not token:
            return None
        known = self._tokens.get(token)
        if known is not None and self._clock() < known[1] + LEEWAY:
            return known[0]
        person, expires = await self._verify(token.decode("latin-1"))
        if len(self._tokens) >= TOKENS_KEPT:
            self._tokens.clear()
        self._tokens[token] = (person, expires)
        return person

    async def _verify(self, value: str) -> tuple[Person, float]:
        # Some proxies pad their base64url segments; the compact form has no padding.
        value = ".".join(part.rstrip("=") for part in value.split("."))
        now = self._clock()
        header = _header(value)
        if self._fetched_at is None or now - self._fetched_at >= KEYS_MAX_AGE:
            await self._fetch(now, header)
        try:
            try:
                token = jwt.decode(value, self._keys, registry=self._registry)
            except InvalidKeyIdError:
                if self._fetched_at is not None and now - self._fetched_at < REFETCH_AFTER:
                    raise
                await self._fetch(now, header)
                token = jwt.decode(value, self._keys, registry=self._registry)
            self._claims.validate(token.claims)
        except JoseError as error:
            raise Refused(f"assertion not accepted: {error}") from None
        except ValueError as error:  # malformed base64 or JSON
            raise Refused(f"assertion not readable: {type(error).__name__}") from None
        if self._audience_in_header is not None:
            if token.header.get(self._audience_in_header) not in self._audience:
                raise Refused("assertion signed by another load balancer")
        return self._person(token.claims), float(token.claims["exp"])

    def _person(self, claims: dict[str, Any]) -> Person:
        value = claims.get(self._user_claim)
        if not isinstance(value, str) or not value.strip():
            raise Refused(f"assertion without the claim {self._user_claim!r}")
        if (
            self._user_claim == "email"
            and self._verified_email_required
            and email_unverified(claims, silent_ok=True)
        ):
            raise Refused("assertion for an unverified e-mail address")
        groups = claims.get(self._groups_claim) or []
        if isinstance(groups, str):
            groups = groups.split(",")
        if not isinstance(groups, list):
            groups = []
        return Person(person_of(value), tuple(str(g).strip() for g in groups if str(g).strip()))

    async def _fetch(self, now: float, header: dict[str, Any]) -> None:
        async with self._fetch_lock:
            if self._fetched_at is not None and self._fetched_at >= now:
                return  # another request fetched them meanwhile
            self._fetched_at = now
            kid = header.get("kid")
            per_kid = "{kid}" in self._url
            if per_kid and not (isinstance(kid, str) and SAFE_KID.fullmatch(kid)):
                return  # nothing that could be fetched: the token is refused for its kid
            try:
                async with httpx2.AsyncClient(timeout=FETCH_TIMEOUT) as client:
                    response = await client.get(self._url.replace("{kid}", str(kid)))
                    if per_kid and response.status_code == 404:
                        return  # no such key: the token is refused for its kid
                    response.raise_for_status()
                if per_kid:
                    # One PEM key per id; those fetched before stay (AWS never changes a key).
                    kind = PEM_KEYS[_key_type(header.get("alg"))]
                    fetched = kind.import_key(response.text, {"kid": str(kid)})
                    keys = [*(k for k in self._keys.keys if k.kid != kid), fetched]
                else:
                    keys = [
                        import_key(item)
                        for item in response.json().get("keys", [])
                        if isinstance(item, dict) and item.get("kty") in ASYMMETRIC
                    ]
            except (httpx2.HTTPError, ValueError, AttributeError, JoseError) as error:
                logger.warning("JWKS at %s not usable: %s", self._url, type(error).__name__)
                if not self._keys.keys:
                    self._fetched_at = None  # nothing to verify with: try again next time
                    raise SourceUnavailable("the proxy's keys could not be fetched") from None
                return  # keep the keys we have
            self._keys = KeySet(keys)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return app
