"""``halo-gate check`` asks the identity source's own parts, not an IdP it does not use."""

from __future__ import annotations

import os

import pytest

from halo_gate.cli import main
from tests.conftest import REDIS_URL, unique_instance
from tests.gateway.conftest import SECRET


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("HALO_GATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HALO_GATE_SECRET_KEY", SECRET)
    monkeypatch.setenv("HALO_GATE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("HALO_GATE_INSTANCE", unique_instance())
    return monkeypatch


def test_check_with_header_identity_needs_no_identity_provider(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environ.setenv("HALO_GATE_IDENTITY", "header")
    environ.setenv("HALO_GATE_TRUSTED_PROXIES", "10.0.0.0/8")
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert "HALO_GATE_IDENTITY header (set)" in [
        " ".join(line.split()) for line in out.splitlines()
    ]
    assert "discovery" not in err


def test_check_with_jwt_identity_reads_the_key_set(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environ.setenv("HALO_GATE_IDENTITY", "jwt")
    environ.setenv("HALO_GATE_JWT_PRESET", "pomerium")
    environ.setenv("HALO_GATE_JWT_AUDIENCE", "app.example.com")
    environ.setenv("HALO_GATE_JWT_JWKS_URL", "http://127.0.0.1:9/jwks")
    assert main(["check"]) == 1
    _, err = capsys.readouterr()
    assert "The key set http://127.0.0.1:9/jwks could not be read" in err
    assert "Traceback" not in err
