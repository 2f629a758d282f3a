"""Parsing and checking of the identity sources' settings, for ``halo_gate.config``.

Kept here so the rules of each source sit next to it; ``config`` calls these parsers like its
own, and each failure is one sentence naming the variable.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .parsers import ConfigError

PREFIX = "HALO_GATE_"
SOURCES = ("oidc", "header", "jwt", "app")
# Asymmetric algorithms only: "none" proves nothing, and an HMAC key that is also published as
# a public key (the classic algorithm-confusion attack) would let anyone sign.
ALLOWED_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("ES256", "RS256")

# What each identity-aware proxy sends: the header holding its assertion and the algorithms it
# signs with. The JWKS URL and the audience are per deployment, so they stay settings.
PRESETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pomerium": ("X-Pomerium-Jwt-Assertion", ("ES256",)),
    "cloudflare-access": ("Cf-Access-Jwt-Assertion", ("RS256",)),
    "google-iap": ("X-Goog-Iap-Jwt-Assertion", ("ES256",)),
    "aws-alb": ("X-Amzn-Oidc-Data", ("ES256",)),
}
HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")


def _fail(variable: str, raw: Any, reason: str) -> ConfigError:
    return ConfigError(f"{variable} has value {str(raw)!r}. {reason}")


def _text(variable: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(variable, raw, "Not a non-empty string.")
    return raw.strip()


def _items(variable: str, raw: Any) -> list[str]:
    if isinstance(raw, str):
        parts = raw.split(",")
    elif isinstance(raw, list | tuple) and all(isinstance(part, str) for part in raw):
        parts = list(raw)
    else:
        raise _fail(variable, raw, "Not a comma-separated list.")
    return [part.strip() for part in parts if part.strip()]


def source(variable: str, raw: Any) -> str:
    value = _text(variable, raw).lower()
    if value not in SOURCES:
        raise _fail(variable, raw, "Not one of 'oidc', 'header', 'jwt' or 'app'.")
    return value


AUTH_PROXIES = ("nginx", "caddy", "traefik")


def auth_proxy(variable: str, raw: Any) -> str:
    value = _text(variable, raw).lower()
    if value not in AUTH_PROXIES:
        raise _fail(variable, raw, "Not one of " + ", ".join(map(repr, AUTH_PROXIES)) + ".")
    return value


def networks(variable: str, raw: Any) -> tuple[str, ...]:
    parsed = []
    for item in _items(variable, raw):
        try:
            parsed.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise _fail(variable, raw, f"{item!r} is not an IP address or CIDR range.") from None
    return tuple(parsed)


def header_name(variable: str, raw: Any) -> str | None:
    if raw is None:
        return None
    value = _text(variable, raw)
    if not HEADER_NAME.fullmatch(value):
        # Underscores are refused too: proxies disagree on whether "_" and "-" are the same.
        raise _fail(variable, raw, "Use only letters, digits and '-' in a header name.")
    return value


def algorithms(variable: str, raw: Any) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(_items(variable, raw)))
    for value in values:
        if value not in ALLOWED_ALGORITHMS:
            raise _fail(
                variable,
                raw,
                f"{value!r} is not allowed; use asymmetric algorithms such as ES256 or RS256.",
            )
    if not values:
        raise _fail(variable, raw, "Name at least one algorithm.")
    return values


def preset(variable: str, raw: Any) -> str | None:
    if raw is None:
        return None
    value = _text(variable, raw).lower()
    if value not in PRESETS:
        raise _fail(variable, raw, f"Not one of {', '.join(repr(p) for p in PRESETS)}.")
    return value


def logout_url(variable: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = _text(variable, raw)
    if not value.startswith(("/", "http://", "https://")) or value.startswith("//"):
        raise _fail(variable, raw, "Not a path or an http:// or https:// URL.")
    return value
