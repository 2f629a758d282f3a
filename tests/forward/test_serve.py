"""``halo-gate serve``: the forward-auth service as its own uvicorn processes."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import REDIS_URL, unique_instance
from tests.gateway.conftest import SECRET
from tests.support import free_port, wait_for_health

pytestmark = pytest.mark.slow

ENV = {
    "HALO_GATE_SECRET_KEY": SECRET,
    "HALO_GATE_OIDC_ISSUER": "http://127.0.0.1:9",
    "HALO_GATE_OIDC_CLIENT_ID": "client",
    "HALO_GATE_OIDC_CLIENT_SECRET": "secret",
    "HALO_GATE_REDIS_URL": REDIS_URL,
    "HALO_GATE_COOKIE_SECURE": "false",
}


def test_serve_runs_workers_that_answer_the_auth_route() -> None:
    port = free_port()
    env = {**os.environ, **ENV, "HALO_GATE_INSTANCE": unique_instance()}
    command = [sys.executable, "-m", "halo_gate.cli", "serve", "--port", str(port)]
    with subprocess.Popen(
        [*command, "--workers", "2"], env=env, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            health = wait_for_health(f"http://127.0.0.1:{port}", server, "halo-gate serve")
            assert health.text == "ok"
            auth = httpx.get(
                f"http://127.0.0.1:{port}/_halo/auth", headers={"X-Original-URI": "/app"}
            )
            assert auth.status_code == 401
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=30)
    assert "Traceback" not in stderr
    assert stderr.count("Started server process") >= 2  # two workers


def test_serve_with_a_bad_setting_says_one_sentence() -> None:
    env = {**os.environ, **ENV, "HALO_GATE_CONCURRENT_SEATS": "many"}
    result = subprocess.run(
        [sys.executable, "-m", "halo_gate.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "halo-gate serve: HALO_GATE_CONCURRENT_SEATS has value 'many'. Not a valid integer."
    )


def test_serve_keeps_the_peer_address_so_header_identity_is_not_warned_about() -> None:
    port = free_port()
    env = {
        **os.environ,
        **ENV,
        "HALO_GATE_INSTANCE": unique_instance(),
        "HALO_GATE_IDENTITY": "header",
        "HALO_GATE_TRUSTED_PROXIES": "127.0.0.1",
        "FORWARDED_ALLOW_IPS": "*",  # what uvicorn would trust, were proxy headers on
    }
    command = [sys.executable, "-m", "halo_gate.cli", "serve", "--port", str(port)]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            health = wait_for_health(f"http://127.0.0.1:{port}", server, "halo-gate serve")
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=30)
    assert "Traceback" not in stderr
    assert health.text == "ok"
    assert "X-Forwarded-For" not in stderr, stderr
