"""Settings from ``HALO_GATE_*`` environment variables, overridden by keyword arguments.

Every setting is validated when the middleware is built, so a bad deployment stops at startup
with one sentence naming the variable and its value. Secrets are kept as starlette ``Secret``s,
whose repr is masked, and the Redis URL's password never appears in a repr either.
Each value is read by a parser of ``config_parsers`` (or of the feature it configures); the
checks across settings are here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Secret

from ..licensing.engine import (
    DEFAULT_AUDIT_MAXLEN,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_SESSIONS_PER_PERSON,
    DEFAULT_NAMED_COOLDOWN,
    DEFAULT_QUEUE_GRACE,
    DEFAULT_QUEUE_MAX,
    DEFAULT_QUEUE_OFFER,
    DEFAULT_SESSION_MAX_AGE,
    queue_poll,
)
from ..licensing.pools import Rules, as_text
from . import identity as identity_parsers
from . import parsers as parse
from . import pools as pool_settings
from .parsers import ASYMMETRIC_ALGORITHMS, OnStoreError
from .parsers import ConfigError as ConfigError  # re-exported: the error of Settings.load
from .startup import warn_unknown_variables

PREFIX = "HALO_GATE_"

IdentitySource = Literal["oidc", "header", "jwt", "app"]
JWTPreset = Literal["pomerium", "cloudflare-access", "google-iap", "aws-alb"]
AuthProxy = Literal["nginx", "caddy", "traefik"]

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
DEFAULT_CLOCK_SKEW = 5


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
    # The claim whose text the application sees as ``request.user.display_name``.
    name_claim: str = "name"
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
    max_sessions_per_person: int = DEFAULT_MAX_SESSIONS_PER_PERSON
    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    # Seconds without a renewal after which a pool slot may go to someone refused (0: off).
    harvest_idle: int = 0
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
    # Forward auth (``halo-gate serve``): the proxy in front, whose headers alone say what the
    # original request was (see ``halo_gate.gateway.forward``).
    auth_proxy: AuthProxy = "nginx"

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
            parser: Callable[[str, Any], Any] = _PARSERS.get(name, parse.text)
            values[name] = parser(variable, raw)
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
        if self.harvest_idle and not (
            2 * self.heartbeat_interval <= self.harvest_idle < self.idle_timeout
        ):
            raise ConfigError(
                f"{PREFIX}HARVEST_IDLE has value '{self.harvest_idle}'. It must be below "
                f"{PREFIX}IDLE_TIMEOUT ('{self.idle_timeout}') and at least twice "
                f"{PREFIX}HEARTBEAT_INTERVAL ('{self.heartbeat_interval}')."
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
        _check_identity(self)
        _check_pools(self)

    @property
    def queue_poll(self) -> int:
        """Seconds between a waiter's polls (their page reloads, ``Retry-After``)."""
        return queue_poll(self.queue_grace, self.queue_offer)

    @property
    def signing_keys(self) -> list[str]:
        """The cookie keys, the signing key first."""
        return [str(key) for key in self.secret_key]


def _check_identity(settings: Settings) -> None:
    """The rules between settings that each source needs; called when settings are loaded."""
    if settings.identity == "header" and not settings.trusted_proxies:
        raise ConfigError(
            f"{PREFIX}TRUSTED_PROXIES is required with {PREFIX}IDENTITY=header: name the "
            "addresses of the proxies allowed to set the identity headers."
        )
    if settings.identity == "header":
        user, groups = settings.user_header.lower(), settings.groups_header.lower()
        if user == groups:
            raise ConfigError(
                f"{PREFIX}USER_HEADER and {PREFIX}GROUPS_HEADER name the same header."
            )
    if settings.identity == "jwt":
        if settings.jwt_jwks_url is None:
            raise ConfigError(f"{PREFIX}JWT_JWKS_URL is required with {PREFIX}IDENTITY=jwt.")
        if not settings.jwt_audience:
            raise ConfigError(f"{PREFIX}JWT_AUDIENCE is required with {PREFIX}IDENTITY=jwt.")
        if settings.jwt_header is None and settings.jwt_preset is None:
            raise ConfigError(
                f"{PREFIX}JWT_HEADER or {PREFIX}JWT_PRESET is required with {PREFIX}IDENTITY=jwt."
            )


def _check_pools(settings: Settings) -> None:
    """Reservations that fit the pool, none above its group's cap."""
    reserve, caps = (
        as_text(settings.pool_reserve),
        as_text(settings.pool_cap),
    )
    total = sum(slots for _, slots in settings.pool_reserve)
    if total > settings.concurrent_seats:
        raise ConfigError(
            f"{PREFIX}POOL_RESERVE has value '{reserve}'. Its reservations add up to {total} "
            f"slots, more than {PREFIX}CONCURRENT_SEATS ('{settings.concurrent_seats}')."
        )
    cap = dict(settings.pool_cap)
    for group, slots in settings.pool_reserve:
        if group in cap and slots > cap[group]:
            raise ConfigError(
                f"{PREFIX}POOL_RESERVE has value '{reserve}'. It keeps {slots} slots for "
                f"'{group}', above that group's cap in {PREFIX}POOL_CAP ('{caps}')."
            )


# The parser of each setting (one not listed is non-empty text).
_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "secret_key": parse.secret_keys,
    "oidc_issuer": parse.url,
    "oidc_client_secret": parse.secret,
    "oidc_scopes": parse.scopes,
    "public_url": parse.optional_url,
    "redis_url": parse.redis_url,
    "instance": parse.name,
    "cookie_name": parse.name,
    "user_claim": parse.claim,
    "groups_claim": parse.claim,
    "name_claim": parse.claim,
    "require_verified_email": parse.boolean,
    "oidc_id_token_algorithms": parse.algorithms,
    "concurrent_seats": parse.integer,
    "named_seats": parse.integer,
    "named_users": parse.people,
    "named_groups": parse.items,
    "named_cooldown": parse.integer,
    "pool_reserve": pool_settings.rules,
    "pool_cap": pool_settings.rules,
    "queue": parse.switch,
    "queue_grace": parse.positive,
    "queue_offer": parse.positive,
    "queue_max": parse.positive,
    "idle_timeout": parse.positive,
    "session_max_age": parse.positive,
    "max_sessions_per_person": parse.positive,
    "heartbeat_interval": parse.integer,
    "harvest_idle": parse.integer,
    "public_paths": parse.paths,
    "passive_paths": parse.paths,
    "on_store_error": parse.on_store_error,
    "audit_maxlen": parse.positive,
    "history_days": parse.positive,
    "path_prefix": parse.path_prefix,
    "cookie_secure": parse.boolean,
    "allowed_hosts": parse.hosts,
    "websocket_origins": parse.origins,
    "clock_skew": parse.integer,
    "admins": parse.people,
    "admin_groups": parse.items,
    "metrics_token": parse.optional_secret,
    "admin_token": parse.optional_secret,
    "price_named": parse.price,
    "price_concurrent": parse.price,
    "price_named_only": parse.price,
    "currency": parse.currency,
    "identity": identity_parsers.source,
    "trusted_proxies": identity_parsers.networks,
    "user_header": identity_parsers.header_name,
    "groups_header": identity_parsers.header_name,
    "jwt_header": identity_parsers.header_name,
    "jwt_jwks_url": parse.optional_url,
    "jwt_audience": parse.items,
    "jwt_issuer": parse.optional_url,
    "jwt_algorithms": identity_parsers.algorithms,
    "jwt_preset": identity_parsers.preset,
    "logout_url": identity_parsers.logout_url,
    "auth_proxy": identity_parsers.auth_proxy,
}
