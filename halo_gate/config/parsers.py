"""The parsers of ``halo_gate.config``: each takes the variable's name (for the message) and a
raw value, which is a string from the environment or a typed keyword argument, and returns the
typed value or raises ``ConfigError`` with one sentence naming the variable and its value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from starlette.datastructures import Secret

OnStoreError = Literal["deny", "allow"]

# Only asymmetric signatures: "none" and HMAC (keyed with the client secret) are never accepted
# for an ID token, whatever the IdP's discovery document lists.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing, malformed or in conflict with another; the message names it."""


def fail(variable: str, raw: Any, reason: str) -> ConfigError:
    return ConfigError(f"{variable} has value {str(raw)!r}. {reason}")


def text(variable: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise fail(variable, raw, "Not a non-empty string.")
    return raw.strip()


def integer(variable: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise fail(variable, raw, "Not a valid integer.")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise fail(variable, raw, "Not a valid integer.") from None
    if value < 0:
        raise fail(variable, raw, "Must not be negative.")
    return value


def positive(variable: str, raw: Any) -> int:
    value = integer(variable, raw)
    if value == 0:
        raise fail(variable, raw, "Must be a positive integer.")
    return value


def boolean(variable: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise fail(variable, raw, "Not a valid bool (true or false).")


def switch(variable: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise fail(variable, raw, "Not one of 'on' or 'off'.")


def items(variable: str, raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        parts = raw.split(",")
    elif isinstance(raw, Sequence) and all(isinstance(part, str) for part in raw):
        parts = list(raw)
    else:
        raise fail(variable, raw, "Not a comma-separated list.")
    return tuple(part.strip() for part in parts if part.strip())


def people(variable: str, raw: Any) -> tuple[str, ...]:
    # Identities are compared case-insensitively, so they are kept lower-cased throughout.
    return tuple(dict.fromkeys(person.lower() for person in items(variable, raw)))


def paths(variable: str, raw: Any) -> tuple[str, ...]:
    paths = items(variable, raw)
    for path in paths:
        if not path.startswith("/"):
            raise fail(variable, raw, f"The path {path!r} does not start with '/'.")
        if not path.strip("/"):
            raise fail(variable, raw, "'/' would cover every path; name the prefixes.")
        if any(segment in (".", "..") for segment in path.split("/")):
            raise fail(variable, raw, f"The path {path!r} has a '.' or '..' segment.")
    return paths


def algorithms(variable: str, raw: Any) -> tuple[str, ...]:
    values = items(variable, raw)
    for value in values:
        if value not in ASYMMETRIC_ALGORITHMS:
            raise fail(
                variable, raw, f"{value!r} is not one of {', '.join(ASYMMETRIC_ALGORITHMS)}."
            )
    if not values:
        raise fail(variable, raw, "Name at least one algorithm.")
    return values


def hosts(variable: str, raw: Any) -> tuple[str, ...]:
    # Starlette's TrustedHostMiddleware patterns: "example.com", "*.example.com" or "*".
    hosts = items(variable, raw)
    for host in hosts:
        if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
            raise fail(variable, raw, f"{host!r} is not a host name, '*.domain' or '*'.")
    return hosts


def origins(variable: str, raw: Any) -> tuple[str, ...]:
    origins = []
    for origin in items(variable, raw):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise fail(variable, raw, f"{origin!r} is not an origin such as https://host:port.")
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


def url(variable: str, raw: Any) -> str:
    value = text(variable, raw)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise fail(variable, raw, "Not an http:// or https:// URL.")
    return value.rstrip("/")


def optional_url(variable: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return url(variable, raw)


def redis_url(variable: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = text(variable, raw)
    if "://" not in value:
        # The URL may hold a password, so it is not repeated in the message.
        raise ConfigError(f"{variable} is not a URL such as redis://host:6379/0.")
    return value


def secret(variable: str, raw: Any) -> Secret:
    if isinstance(raw, Secret):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{variable} is empty.")
    return Secret(raw.strip())


def optional_secret(variable: str, raw: Any) -> Secret | None:
    if raw is None or (isinstance(raw, str | Secret) and not str(raw).strip()):
        return None
    return secret(variable, raw)


def price(variable: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise fail(variable, raw, "Not a number (a price per person per month).") from None
    if not value >= 0 or value == float("inf"):
        raise fail(variable, raw, "A price must be zero or more.")
    return value


def currency(variable: str, raw: Any) -> str:
    value = text(variable, raw).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise fail(variable, raw, "Not a three-letter currency code such as GBP.")
    return value


def secret_keys(variable: str, raw: Any) -> tuple[Secret, ...]:
    if isinstance(raw, Secret):
        raw = str(raw)
    if isinstance(raw, str):
        keys = [key.strip() for key in raw.split(",")]
    elif isinstance(raw, Sequence):
        keys = [str(key).strip() for key in raw]
    else:
        raise ConfigError(f"{variable} is not a comma-separated list of keys.")
    if not keys or any(not key for key in keys):
        raise ConfigError(f"{variable} has an empty key; give one or more keys, comma-separated.")
    for key in keys:
        if len(key) < 16:
            # The value is a secret, so the message says what is wrong without repeating it.
            raise ConfigError(f"{variable} has a key shorter than 16 characters.")
    return tuple(Secret(key) for key in keys)


def on_store_error(variable: str, raw: Any) -> OnStoreError:
    value = text(variable, raw).lower()
    if value not in ("deny", "allow"):
        raise fail(variable, raw, "Not one of 'deny' or 'allow'.")
    return cast(OnStoreError, value)


def path_prefix(variable: str, raw: Any) -> str:
    value = text(variable, raw).rstrip("/")
    if not value.startswith("/") or len(value) < 2:
        raise fail(variable, raw, "Must be a path such as '/_halo'.")
    return value


def name(variable: str, raw: Any) -> str:
    # Instance names go inside the Redis {hash tag} and cookie names into headers.
    value = text(variable, raw)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise fail(variable, raw, "Use only letters, digits, '.', '_' and '-'.")
    return value


def claim(variable: str, raw: Any) -> str:
    return text(variable, raw)


def scopes(variable: str, raw: Any) -> str:
    value = " ".join(text(variable, raw).split())
    if "openid" not in value.split():
        raise fail(variable, raw, "The scopes must include 'openid'.")
    return value
