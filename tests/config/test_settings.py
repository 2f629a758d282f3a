"""Settings: environment and keyword arguments, one-sentence errors, masked secrets."""

from __future__ import annotations

import pytest

from halo_gate.config import ConfigError, Settings

REQUIRED = {
    "HALO_GATE_SECRET_KEY": "first-key-0123456789,second-key-0123456789",
    "HALO_GATE_OIDC_ISSUER": "https://idp.example/realms/x/",
    "HALO_GATE_OIDC_CLIENT_ID": "halo",
    "HALO_GATE_OIDC_CLIENT_SECRET": "client-secret-value",
}


def test_settings_come_from_the_environment_with_defaults() -> None:
    settings = Settings.load(
        {**REQUIRED, "HALO_GATE_NAMED_SEATS": "2", "HALO_GATE_NAMED_USERS": "A@x.org, b@x.org"}
    )
    assert settings.oidc_issuer == "https://idp.example/realms/x"
    assert settings.signing_keys == ["first-key-0123456789", "second-key-0123456789"]
    assert settings.named_users == ("a@x.org", "b@x.org")
    assert settings.idle_timeout == 1800
    assert settings.heartbeat_interval == 60
    assert settings.cookie_name == "halo_session"
    assert settings.cookie_secure is True
    assert settings.path_prefix == "/_halo"
    assert settings.on_store_error == "deny"
    assert settings.redis_url is None


def test_keyword_arguments_override_the_environment() -> None:
    settings = Settings.load(
        {**REQUIRED, "HALO_GATE_CONCURRENT_SEATS": "5"},
        concurrent_seats=2,
        redis_url=None,
        cookie_secure="false",
        public_paths=["/static", "/health"],
    )
    assert settings.concurrent_seats == 2
    assert settings.cookie_secure is False
    assert settings.public_paths == ("/static", "/health")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "HALO_GATE_IDLE_TIMEOUT",
            "abc",
            "HALO_GATE_IDLE_TIMEOUT has value 'abc'. Not a valid integer.",
        ),
        (
            "HALO_GATE_COOKIE_SECURE",
            "maybe",
            "HALO_GATE_COOKIE_SECURE has value 'maybe'. Not a valid bool (true or false).",
        ),
        (
            "HALO_GATE_QUEUE",
            "sometimes",
            "HALO_GATE_QUEUE has value 'sometimes'. Not one of 'on' or 'off'.",
        ),
        (
            "HALO_GATE_QUEUE_GRACE",
            "0",
            "HALO_GATE_QUEUE_GRACE has value '0'. Must be a positive integer.",
        ),
        (
            "HALO_GATE_ON_STORE_ERROR",
            "ignore",
            "HALO_GATE_ON_STORE_ERROR has value 'ignore'. Not one of 'deny' or 'allow'.",
        ),
        (
            "HALO_GATE_OIDC_ISSUER",
            "idp.example",
            "HALO_GATE_OIDC_ISSUER has value 'idp.example'. Not an http:// or https:// URL.",
        ),
        (
            "HALO_GATE_CONCURRENT_SEATS",
            "-1",
            "HALO_GATE_CONCURRENT_SEATS has value '-1'. Must not be negative.",
        ),
        (
            "HALO_GATE_PUBLIC_PATHS",
            "static",
            "HALO_GATE_PUBLIC_PATHS has value 'static'. The path 'static' does not start with '/'.",
        ),
        (
            "HALO_GATE_INSTANCE",
            "a}b",
            "HALO_GATE_INSTANCE has value 'a}b'. Use only letters, digits, '.', '_' and '-'.",
        ),
        (
            "HALO_GATE_OIDC_SCOPES",
            "email",
            "HALO_GATE_OIDC_SCOPES has value 'email'. The scopes must include 'openid'.",
        ),
    ],
)
def test_a_malformed_setting_is_one_sentence_naming_it(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.load({**REQUIRED, variable: value})
    assert str(error.value) == message


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_required_setting_is_named(missing: str) -> None:
    environ = {name: value for name, value in REQUIRED.items() if name != missing}
    with pytest.raises(ConfigError, match=f"^{missing} is required but not set.$"):
        Settings.load(environ)


def test_conflicting_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="HALO_GATE_HEARTBEAT_INTERVAL has value '1000'"):
        Settings.load({**REQUIRED, "HALO_GATE_HEARTBEAT_INTERVAL": "1000"})
    with pytest.raises(ConfigError, match="HALO_GATE_NAMED_USERS lists 2 people but"):
        Settings.load({**REQUIRED, "HALO_GATE_NAMED_USERS": "a@x.org,b@x.org"}, named_seats=1)
    with pytest.raises(ConfigError, match="HALO_GATE_IDLE_TIMEOUT has value '7200'"):
        Settings.load({**REQUIRED}, idle_timeout=7200, session_max_age=3600)


def test_an_unknown_keyword_is_refused() -> None:
    with pytest.raises(ConfigError, match="no setting 'idle_timout'"):
        Settings.load(REQUIRED, idle_timout=5)


def test_a_short_key_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigError) as error:
        Settings.load({**REQUIRED, "HALO_GATE_SECRET_KEY": "short-secret"})
    assert "short-secret" not in str(error.value)
    assert "HALO_GATE_SECRET_KEY" in str(error.value)


def test_secrets_never_appear_in_the_repr() -> None:
    settings = Settings.load(
        {
            **REQUIRED,
            "HALO_GATE_REDIS_URL": "redis://:redis-password@cache:6379/0",
            "HALO_GATE_METRICS_TOKEN": "metrics-token-value",
        }
    )
    shown = repr(settings) + str(settings)
    for secret in (
        "first-key-0123456789",
        "second-key-0123456789",
        "client-secret-value",
        "redis-password",
        "metrics-token-value",
    ):
        assert secret not in shown
    assert "redis://:********@cache:6379/0" in shown
    assert "oidc_client_id='halo'" in shown


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HALO_GATE_OIDC_ID_TOKEN_ALGORITHMS", "RS256,none", "'none' is not one of"),
        ("HALO_GATE_OIDC_ID_TOKEN_ALGORITHMS", "HS256", "'HS256' is not one of"),
        ("HALO_GATE_ALLOWED_HOSTS", "good.example,evil*.example", "is not a host name"),
        ("HALO_GATE_WEBSOCKET_ORIGINS", "app.example.com", "is not an origin"),
        ("HALO_GATE_PASSIVE_PATHS", "/", "would cover every path"),
        ("HALO_GATE_REQUIRE_VERIFIED_EMAIL", "perhaps", "Not a valid bool"),
    ],
)
def test_security_settings_are_validated(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=variable) as error:
        Settings.load({**REQUIRED, variable: value})
    assert fragment in str(error.value)


def test_security_settings_defaults_and_parsing() -> None:
    settings = Settings.load(
        {
            **REQUIRED,
            "HALO_GATE_ALLOWED_HOSTS": "app.example.com, *.example.org",
            "HALO_GATE_WEBSOCKET_ORIGINS": "https://App.example.com/",
            "HALO_GATE_OIDC_ID_TOKEN_ALGORITHMS": "ES256",
        }
    )
    assert settings.allowed_hosts == ("app.example.com", "*.example.org")
    assert settings.websocket_origins == ("https://app.example.com",)
    assert settings.oidc_id_token_algorithms == ("ES256",)
    defaults = Settings.load(REQUIRED)
    assert defaults.require_verified_email is True
    assert "none" not in defaults.oidc_id_token_algorithms
