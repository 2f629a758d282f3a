"""The identity sources' settings: parsed, checked together, one sentence per mistake."""

from __future__ import annotations

import pytest

from halo_gate.config import ConfigError, Settings
from tests.gateway.conftest import SECRET

BASE = {"HALO_GATE_SECRET_KEY": SECRET}


def test_oidc_stays_the_default_and_needs_its_issuer() -> None:
    with pytest.raises(ConfigError, match="HALO_GATE_OIDC_ISSUER is required but not set."):
        Settings.load(BASE)


def test_header_settings_from_the_environment() -> None:
    settings = Settings.load(
        {
            **BASE,
            "HALO_GATE_IDENTITY": "Header",
            "HALO_GATE_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16, ::1",
            "HALO_GATE_USER_HEADER": "X-Auth-Request-Email",
            "HALO_GATE_LOGOUT_URL": "/oauth2/sign_out",
        }
    )
    assert settings.identity == "header"
    assert settings.trusted_proxies == ("10.0.0.5/32", "10.1.0.0/16", "::1/128")
    assert settings.user_header == "X-Auth-Request-Email"
    assert settings.groups_header == "X-Forwarded-Groups"
    assert settings.logout_url == "/oauth2/sign_out"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HALO_GATE_IDENTITY", "saml", "HALO_GATE_IDENTITY has value 'saml'. Not one of"),
        ("HALO_GATE_TRUSTED_PROXIES", "proxy.local", "'proxy.local' is not an IP address"),
        ("HALO_GATE_GROUPS_HEADER", "X Groups", "Use only letters, digits and '-'"),
        ("HALO_GATE_LOGOUT_URL", "//evil.example", "Not a path or an http:// or https:// URL."),
        ("HALO_GATE_USER_HEADER", "x-forwarded-groups", "name the same header"),
    ],
)
def test_bad_header_settings_stop_startup(variable: str, value: str, message: str) -> None:
    environ = {**BASE, "HALO_GATE_IDENTITY": "header", "HALO_GATE_TRUSTED_PROXIES": "10.0.0.1"}
    with pytest.raises(ConfigError, match=message):
        Settings.load({**environ, variable: value})


def test_jwt_needs_keys_an_audience_and_a_header() -> None:
    jwt = {**BASE, "HALO_GATE_IDENTITY": "jwt"}
    with pytest.raises(ConfigError, match="HALO_GATE_JWT_JWKS_URL is required"):
        Settings.load({**jwt, "HALO_GATE_JWT_AUDIENCE": "a", "HALO_GATE_JWT_HEADER": "X-A"})
    with pytest.raises(ConfigError, match="HALO_GATE_JWT_HEADER or HALO_GATE_JWT_PRESET"):
        Settings.load(
            {**jwt, "HALO_GATE_JWT_AUDIENCE": "a", "HALO_GATE_JWT_JWKS_URL": "https://x/jwks"}
        )
    with pytest.raises(ConfigError, match="HALO_GATE_JWT_ISSUER has value 'auth'"):
        Settings.load({**jwt, "HALO_GATE_JWT_ISSUER": "auth"})
    settings = Settings.load(
        {
            **jwt,
            "HALO_GATE_JWT_PRESET": "google-iap",
            "HALO_GATE_JWT_JWKS_URL": "https://www.gstatic.com/iap/verify/public_key-jwk",
            "HALO_GATE_JWT_AUDIENCE": "/projects/1/global/backendServices/2, /projects/1/apps/x",
        }
    )
    assert settings.jwt_audience == ("/projects/1/global/backendServices/2", "/projects/1/apps/x")
    assert settings.jwt_algorithms == ()  # the preset's apply
