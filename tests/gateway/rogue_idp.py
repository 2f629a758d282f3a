"""A misbehaving OpenID Connect provider for security tests: it accepts a code any number of
times, lists ``none`` among its ID token algorithms, and can sign with ``alg: none``."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "rogue-client"
CLIENT_SECRET = "rogue-secret"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class RogueProvider:
    """Set ``issuer`` once served; ``unsigned`` makes its ID tokens ``alg: none``."""

    issuer: str = ""
    unsigned: bool = False
    claims: dict[str, Any] = field(
        default_factory=lambda: {"email": "rogue@example.com", "email_verified": True}
    )
    codes: dict[str, str] = field(default_factory=dict)  # code -> nonce; never spent
    tokens_issued: int = 0
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["none", "RS256"],
            }
        )

    async def authorize(self, request: Request) -> Response:
        code = secrets.token_urlsafe(12)
        self.codes[code] = request.query_params.get("nonce", "")
        query = urlencode({"code": code, "state": request.query_params["state"]})
        return RedirectResponse(f"{request.query_params['redirect_uri']}?{query}", 302)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        nonce = self.codes.get(form.get("code", ""))
        if nonce is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "rogue-sub",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.claims,
        }
        if self.unsigned:
            id_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        else:
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(12),
                "token_type": "Bearer",
                "id_token": id_token,
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})
