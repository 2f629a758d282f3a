"""``HALO_GATE_IDENTITY=jwt``: the person from an identity-aware proxy's signed assertion.

joserfc verifies the signature with the proxy's published keys and the claims: ``exp``,
``nbf`` and ``iat`` with at most ``LEEWAY`` seconds of clock skew, the audience (required) and
the issuer (when set). Only asymmetric algorithms are accepted, and only asymmetric keys are
taken from the key set, so neither ``alg: none`` nor an HMAC "signed" with the public key can
pass. The keys come from ``identity/jwks.py``, which says when they are fetched. A verified
token is remembered until it expires, so the check on each request is usually one dict lookup.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry
from joserfc.registry import HeaderParameter
from starlette.types import ASGIApp, Scope

from ..config import Settings
from ..config.identity import DEFAULT_ALGORITHMS, PRESETS
from . import Person, Refused, Unnamed, person_of
from .claims import email_unverified
from .jwks import JWKSKeys, PerKidKeys

LEEWAY = 30
TOKENS_KEPT = 10_000


def _header(value: str) -> dict[str, Any]:
    """The token's (unverified) header: only to know which key to fetch."""
    first = value.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


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
        url = settings.jwt_jwks_url
        self._keys = PerKidKeys(url) if "{kid}" in url else JWKSKeys(url)
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
        if self._audience_in_header is not None:
            # Checked again once signed; asked first so that no other balancer's token
            # costs a key fetch.
            if header.get(self._audience_in_header) not in self._audience:
                raise Refused("assertion signed by another load balancer")
        keys = await self._keys.for_token(header, now)
        try:
            try:
                token = jwt.decode(value, keys, registry=self._registry)
            except InvalidKeyIdError:
                fresh = await self._keys.after_unknown_kid(header, now)
                if fresh is None:
                    raise
                token = jwt.decode(value, fresh, registry=self._registry)
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

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return app
