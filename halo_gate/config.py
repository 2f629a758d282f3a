"""Settings from ``HALO_GATE_*`` environment variables, overridden by keyword arguments.

Every setting is validated when the middleware is built, so a bad deployment stops at startup
with one sentence naming the variable and its value. Secrets are kept as starlette ``Secret``s,
whose repr is masked, and the Redis URL's password never appears in a repr either.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Secret

from . import pool_settings
from .identity import settings as identity_parsers
from .licensing.engine import (
    DEFAULT_AUDIT_MAXLEN,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_NAMED_COOLDOWN,
    DEFAULT_QUEUE_GRACE,
    DEFAULT_QUEUE_MAX,
    DEFAULT_QUEUE_OFFER,
    DEFAULT_SESSION_MAX_AGE,
    queue_poll,
)
from .licensing.pools import Rules
from .startup import warn_unknown_variables

PREFIX = "HALO_GATE_"

OnStoreError = Literal["deny", "allow"]
IdentitySource = Literal["oidc", "header", "jwt", "app"]
JWTPreset = Literal["pomerium", "cloudflare-access", "google-iap", "aws-alb"]

DEFAULT_OIDC_SCOPES = "openid email profile"
DEFAULT_INSTANCE = "default"
DEFAULT_USER_CLAIM = "email"
DEFAULT_GROUPS_CLAIM = "groups"
DEFAULT_CONCURRENT_SEATS = 10
DEFAULT_NAMED_SEATS = 0
DEFAULT_HEARTBEAT_INTERVAL = 60
DEFAULT_PATH_PREFIX = "/_halo"
DEFAULT_COOKIE_NAME = "halo_session"
DEFAULT_CURRENCY = "GBP"
# Only asymmetric signatures: "none" and HMAC (keyed with the client secret) are never accepted
# for an ID token, whatever the IdP's discovery document lists.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
DEFAULT_CLOCK_SKEW = 5

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing, malformed or in conflict with another; the message names it."""


def _mask_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}********@{netloc}"))


@dataclass(frozen=True, kw_only=True, repr=False)
class Settings:
    """Everything ``HaloGate`` is configured with; field name = variable name without prefix."""

    secret_key: tuple[Secret, ...]
    # Required when the identity source is OIDC (the default), unused otherwise.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: Secret = Secret("")
    oidc_scopes: str = DEFAULT_OIDC_SCOPES
    public_url: str | None = None
    redis_url: str | None = None
    instance: str = DEFAULT_INSTANCE
    user_claim: str = DEFAULT_USER_CLAIM
    groups_claim: str = DEFAULT_GROUPS_CLAIM
    require_verified_email: bool = True
    oidc_id_token_algorithms: tuple[str, ...] = ASYMMETRIC_ALGORITHMS
    concurrent_seats: int = DEFAULT_CONCURRENT_SEATS
    named_seats: int = DEFAULT_NAMED_SEATS
    named_users: tuple[str, ...] = ()
    named_groups: tuple[str, ...] = ()
    named_cooldown: int = DEFAULT_NAMED_COOLDOWN
    pool_reserve: Rules = ()
    pool_cap: Rules = ()
    # The waiting line when the pool is full (see README "Waiting room").
    queue: bool = True
    queue_grace: int = DEFAULT_QUEUE_GRACE
    queue_offer: int = DEFAULT_QUEUE_OFFER
    queue_max: int = DEFAULT_QUEUE_MAX
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    session_max_age: int = DEFAULT_SESSION_MAX_AGE
    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    public_paths: tuple[str, ...] = ()
    passive_paths: tuple[str, ...] = ()
    on_store_error: OnStoreError = "deny"
    audit_maxlen: int = DEFAULT_AUDIT_MAXLEN
    history_days: int = DEFAULT_HISTORY_DAYS
    path_prefix: str = DEFAULT_PATH_PREFIX
    cookie_name: str = DEFAULT_COOKIE_NAME
    cookie_secure: bool = True
    allowed_hosts: tuple[str, ...] = ()
    websocket_origins: tuple[str, ...] = ()
    clock_skew: int = DEFAULT_CLOCK_SKEW
    admins: tuple[str, ...] = ()
    admin_groups: tuple[str, ...] = ()
    metrics_token: Secret | None = None
    admin_token: Secret | None = None
    price_named: float | None = None
    price_concurrent: float | None = None
    price_named_only: float | None = None
    currency: str = DEFAULT_CURRENCY
    # Who the person is, when the login is not halo-gate's own (see ``halo_gate.identity``).
    identity: IdentitySource = "oidc"
    trusted_proxies: tuple[str, ...] = ()
    user_header: str = "X-Forwarded-Email"
    groups_header: str = "X-Forwarded-Groups"
    jwt_header: str | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: tuple[str, ...] = ()
    jwt_issuer: str | None = None
    jwt_algorithms: tuple[str, ...] = ()  # empty: the preset's, else ES256,RS256
    jwt_preset: JWTPreset | None = None
    logout_url: str | None = None

    def __repr__(self) -> str:
        shown = []
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "redis_url":
                value = _mask_url(value)
            shown.append(f"{item.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default ``os.environ``) with keyword ``overrides`` on top."""
        environ = os.environ if environ is None else environ
        names = [item.name for item in dataclasses.fields(cls)]
        warn_unknown_variables(environ, PREFIX, names)
        for name in overrides:
            if name not in names:
                raise ConfigError(f"HaloGate has no setting {name!r} ({PREFIX}{name.upper()}).")
        values: dict[str, Any] = {}
        for name in names:
            variable = PREFIX + name.upper()
            if name in overrides:
                raw: Any = overrides[name]
            elif variable in environ:
                raw = environ[variable]
            else:
                continue
            parse: Callable[[str, Any], Any] = _PARSERS.get(name, _text)
            values[name] = parse(variable, raw)
        required = ["secret_key"]
        if values.get("identity", "oidc") == "oidc":
            required += ["oidc_issuer", "oidc_client_id", "oidc_client_secret"]
        for name in required:
            if name not in values:
                raise ConfigError(f"{PREFIX}{name.upper()} is required but not set.")
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.heartbeat_interval * 2 > self.idle_timeout:
            raise ConfigError(
                f"{PREFIX}HEARTBEAT_INTERVAL has value '{self.heartbeat_interval}'. It must be at "
                f"most half of {PREFIX}IDLE_TIMEOUT ('{self.idle_timeout}')."
            )
        if self.idle_timeout > self.session_max_age:
            raise ConfigError(
                f"{PREFIX}IDLE_TIMEOUT has value '{self.idle_timeout}'. It must not exceed "
                f"{PREFIX}SESSION_MAX_AGE ('{self.session_max_age}')."
            )
        if self.cookie_name.startswith(("__Host-", "__Secure-")) and not self.cookie_secure:
            raise ConfigError(
                f"{PREFIX}COOKIE_NAME has value '{self.cookie_name}', a prefix browsers only "
                f"accept on Secure cookies, but {PREFIX}COOKIE_SECURE is false."
            )
        if len(self.named_users) > self.named_seats:
            raise ConfigError(
                f"{PREFIX}NAMED_USERS lists {len(self.named_users)} people but "
                f"{PREFIX}NAMED_SEATS has value '{self.named_seats}'."
            )
        identity_parsers.check(self)
        pool_settings.check(self)

    @property
    def queue_poll(self) -> int:
        """Seconds between a waiter's polls (their page reloads, ``Retry-After``)."""
        return queue_poll(self.queue_grace, self.queue_offer)

    @property
    def signing_keys(self) -> list[str]:
        """The cookie keys, the signing key first."""
        return [str(key) for key in self.secret_key]


# Parsers: each takes the variable's name (for the message) and a raw value, which is a string
# from the environment or a typed keyword argument.


def _fail(variable: str, raw: Any, reason: str) -> ConfigError:
    return ConfigError(f"{variable} has value {str(raw)!r}. {reason}")


def _text(variable: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(variable, raw, "Not a non-empty string.")
    return raw.strip()


def _integer(variable: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _fail(variable, raw, "Not a valid integer.")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise _fail(variable, raw, "Not a valid integer.") from None
    if value < 0:
        raise _fail(variable, raw, "Must not be negative.")
    return value


def _positive(variable: str, raw: Any) -> int:
    value = _integer(variable, raw)
    if value == 0:
        raise _fail(variable, raw, "Must be a positive integer.")
    return value


def _boolean(variable: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise _fail(variable, raw, "Not a valid bool (true or false).")


def _switch(variable: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise _fail(variable, raw, "Not one of 'on' or 'off'.")


def _items(variable: str, raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        parts = raw.split(",")
    elif isinstance(raw, Sequence) and all(isinstance(part, str) for part in raw):
        parts = list(raw)
    else:
        raise _fail(variable, raw, "Not a comma-separated list.")
    return tuple(part.strip() for part in parts if part.strip())


def _people(variable: str, raw: Any) -> tuple[str, ...]:
    # Identities are compared case-insensitively, so they are kept lower-cased throughout.
    return tuple(dict.fromkeys(person.lower() for person in _items(variable, raw)))


def _paths(variable: str, raw: Any) -> tuple[str, ...]:
    paths = _items(variable, raw)
    for path in paths:
        if not path.startswith("/"):
            raise _fail(variable, raw, f"The path {path!r} does not start with '/'.")
        if not path.strip("/"):
            raise _fail(variable, raw, "'/' would cover every path; name the prefixes.")
        if any(segment in (".", "..") for segment in path.split("/")):
            raise _fail(variable, raw, f"The path {path!r} has a '.' or '..' segment.")
    return paths


def _algorithms(variable: str, raw: Any) -> tuple[str, ...]:
    values = _items(variable, raw)
    for value in values:
        if value not in ASYMMETRIC_ALGORITHMS:
            raise _fail(
                variable, raw, f"{value!r} is not one of {', '.join(ASYMMETRIC_ALGORITHMS)}."
            )
    if not values:
        raise _fail(variable, raw, "Name at least one algorithm.")
    return values


def _hosts(variable: str, raw: Any) -> tuple[str, ...]:
    # Starlette's TrustedHostMiddleware patterns: "example.com", "*.example.com" or "*".
    hosts = _items(variable, raw)
    for host in hosts:
        if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
            raise _fail(variable, raw, f"{host!r} is not a host name, '*.domain' or '*'.")
    return hosts


def _origins(variable: str, raw: Any) -> tuple[str, ...]:
    origins = []
    for origin in _items(variable, raw):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise _fail(variable, raw, f"{origin!r} is not an origin such as https://host:port.")
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


def _url(variable: str, raw: Any) -> str:
    value = _text(variable, raw)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(variable, raw, "Not an http:// or https:// URL.")
    return value.rstrip("/")


def _optional_url(variable: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _url(variable, raw)


def _redis_url(variable: str, raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    value = _text(variable, raw)
    if "://" not in value:
        # The URL may hold a password, so it is not repeated in the message.
        raise ConfigError(f"{variable} is not a URL such as redis://host:6379/0.")
    return value


def _secret(variable: str, raw: Any) -> Secret:
    if isinstance(raw, Secret):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{variable} is empty.")
    return Secret(raw.strip())


def _optional_secret(variable: str, raw: Any) -> Secret | None:
    if raw is None or (isinstance(raw, str | Secret) and not str(raw).strip()):
        return None
    return _secret(variable, raw)


def _price(variable: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _fail(variable, raw, "Not a number (a price per person per month).") from None
    if not value >= 0 or value == float("inf"):
        raise _fail(variable, raw, "A price must be zero or more.")
    return value


def _currency(variable: str, raw: Any) -> str:
    value = _text(variable, raw).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise _fail(variable, raw, "Not a three-letter currency code such as GBP.")
    return value


def _secret_keys(variable: str, raw: Any) -> tuple[Secret, ...]:
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


def _on_store_error(variable: str, raw: Any) -> OnStoreError:
    value = _text(variable, raw).lower()
    if value not in ("deny", "allow"):
        raise _fail(variable, raw, "Not one of 'deny' or 'allow'.")
    return cast(OnStoreError, value)


def _path_prefix(variable: str, raw: Any) -> str:
    value = _text(variable, raw).rstrip("/")
    if not value.startswith("/") or len(value) < 2:
        raise _fail(variable, raw, "Must be a path such as '/_halo'.")
    return value


def _name(variable: str, raw: Any) -> str:
    # Instance names go inside the Redis {hash tag} and cookie names into headers.
    value = _text(variable, raw)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise _fail(variable, raw, "Use only letters, digits, '.', '_' and '-'.")
    return value


def _claim(variable: str, raw: Any) -> str:
    return _text(variable, raw)


def _scopes(variable: str, raw: Any) -> str:
    value = " ".join(_text(variable, raw).split())
    if "openid" not in value.split():
        raise _fail(variable, raw, "The scopes must include 'openid'.")
    return value


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "secret_key": _secret_keys,
    "oidc_issuer": _url,
    "oidc_client_secret": _secret,
    "oidc_scopes": _scopes,
    "public_url": _optional_url,
    "redis_url": _redis_url,
    "instance": _name,
    "cookie_name": _name,
    "user_claim": _claim,
    "groups_claim": _claim,
    "require_verified_email": _boolean,
    "oidc_id_token_algorithms": _algorithms,
    "concurrent_seats": _integer,
    "named_seats": _integer,
    "named_users": _people,
    "named_groups": _items,
    "named_cooldown": _integer,
    "pool_reserve": pool_settings.rules,
    "pool_cap": pool_settings.rules,
    "queue": _switch,
    "queue_grace": _positive,
    "queue_offer": _positive,
    "queue_max": _positive,
    "idle_timeout": _positive,
    "session_max_age": _positive,
    "heartbeat_interval": _integer,
    "public_paths": _paths,
    "passive_paths": _paths,
    "on_store_error": _on_store_error,
    "audit_maxlen": _positive,
    "history_days": _positive,
    "path_prefix": _path_prefix,
    "cookie_secure": _boolean,
    "allowed_hosts": _hosts,
    "websocket_origins": _origins,
    "clock_skew": _integer,
    "admins": _people,
    "admin_groups": _items,
    "metrics_token": _optional_secret,
    "admin_token": _optional_secret,
    "price_named": _price,
    "price_concurrent": _price,
    "price_named_only": _price,
    "currency": _currency,
    "identity": identity_parsers.source,
    "trusted_proxies": identity_parsers.networks,
    "user_header": identity_parsers.header_name,
    "groups_header": identity_parsers.header_name,
    "jwt_header": identity_parsers.header_name,
    "jwt_jwks_url": _optional_url,
    "jwt_audience": _items,
    "jwt_issuer": _optional_url,
    "jwt_algorithms": identity_parsers.algorithms,
    "jwt_preset": identity_parsers.preset,
    "logout_url": identity_parsers.logout_url,
}
