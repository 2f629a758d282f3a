"""Revocation through a real ``uvicorn --workers 2``: once a session is signed out, a copy of its
cookie is refused on passive paths and the gateway's own routes by both workers within one
heartbeat interval (here 1 s, so real time passes instead of an injected clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine
from halo_gate.session import Session, SessionCodec, new_session_id
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import NO_IDP, SECRET, uvicorn_process

pytestmark = pytest.mark.slow

INTERVAL = 1


@pytest.fixture
def workers() -> Iterator[tuple[str, str]]:
    instance = unique_instance()
    settings = {
        **NO_IDP,
        "REDIS_URL": REDIS_URL,
        "INSTANCE": instance,
        "HEARTBEAT_INTERVAL": str(INTERVAL),
        "IDLE_TIMEOUT": "60",
        "PASSIVE_PATHS": "/api",
        "ADMINS": "copy@example.com",
    }
    app = "examples.starlette_app:app"
    with uvicorn_process(app, settings, "--workers", "2", ready="/_halo/ready") as (url, _):
        yield url, instance


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
