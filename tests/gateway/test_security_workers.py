"""Revocation through a real ``uvicorn --workers 2``: once a session is signed out, a copy of its
cookie is refused on passive paths and the gateway's own routes by both workers within one
heartbeat interval (here 1 s, so real time passes instead of an injected clock)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine
from halo_gate.session import Session, SessionCodec, new_session_id
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import SECRET, free_port

INTERVAL = 1


@pytest.fixture
def workers() -> Iterator[tuple[str, str]]:
    port, instance = free_port(), unique_instance()
    env = {
        **os.environ,
        "HALO_GATE_SECRET_KEY": SECRET,
        "HALO_GATE_OIDC_ISSUER": "http://127.0.0.1:9",
        "HALO_GATE_OIDC_CLIENT_ID": "client",
        "HALO_GATE_OIDC_CLIENT_SECRET": "secret",
        "HALO_GATE_COOKIE_SECURE": "false",
        "HALO_GATE_REDIS_URL": REDIS_URL,
        "HALO_GATE_INSTANCE": instance,
        "HALO_GATE_HEARTBEAT_INTERVAL": str(INTERVAL),
        "HALO_GATE_IDLE_TIMEOUT": "60",
        "HALO_GATE_PASSIVE_PATHS": "/api",
        "HALO_GATE_ADMINS": "copy@example.com",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.starlette_app:app", "--port", str(port)]
        + ["--workers", "2", "--log-level", "warning"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/_halo/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("uvicorn --workers 2 did not start")
            time.sleep(0.1)
        yield url, instance
    finally:
        process.terminate()
        process.wait(timeout=15)


async def statuses(url: str, path: str, cookie: str, times: int = 16) -> set[int]:
    """Statuses of ``times`` requests, each on a new connection so both workers answer some."""
    found = set()
    for _ in range(times):
        async with httpx.AsyncClient(headers={"accept": "application/json"}) as client:
            response = await client.get(url + path, headers={"cookie": f"halo_session={cookie}"})
            found.add(response.status_code)
    return found


async def test_a_signed_out_cookie_is_refused_by_both_workers(workers: tuple[str, str]) -> None:
    url, instance = workers
    store = Redis.from_url(REDIS_URL)
    engine = LicenceEngine(store, instance=instance, idle_timeout=60)
    try:
        session_id = new_session_id()
        assert (await engine.admit("copy@example.com", session_id)).admitted
        codec = SessionCodec([SECRET], max_age=60, clock=time.time)
        cookie = codec.encode(
            Session(session_id, "copy@example.com", "concurrent", int(time.time()))
        )
        for path in ("/api/whoami", "/_halo/me", "/_halo/api/usage"):
            assert await statuses(url, path, cookie) == {200}, path
        await engine.release("copy@example.com", session_id)  # signed out elsewhere
        await asyncio.sleep(INTERVAL + 0.2)
        for path in ("/api/whoami", "/_halo/me", "/_halo/api/usage"):
            assert await statuses(url, path, cookie) == {401}, path
    finally:
        await drop_instance(store, instance)
        await store.aclose()
