"""End to end: WebSocket gating, and a store that goes away (deny and allow), never a 500."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import person

# Ports set aside for Redis servers that these tests start and stop.
PORTS = range(6390, 6400)


async def test_websockets_are_gated_before_accept(site_factory: Any, idp: IdentityProvider) -> None:
    site = await site_factory(concurrent_seats=1)
    ws_url = site.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url):
            pass
    assert refused.value.response.status_code == 403

    browser = site.browser()
    assert (await browser.login(person(idp, "socket@example.com"))).status_code == 200
    cookie = f"halo_session={browser.session_cookie}"
    async with connect(ws_url, additional_headers={"cookie": cookie}) as websocket:
        assert await websocket.recv() == "hello socket@example.com"


@pytest.fixture
def spare_redis() -> Iterator[str]:
    """A Redis server of this test's own, on a port set aside for servers that tests kill."""
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                break
    else:
        pytest.skip("no spare Redis port free in 6390-6399")
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()


def kill_redis(url: str) -> None:
    port = url.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)


@pytest.mark.parametrize("mode", ["deny", "allow"])
async def test_a_store_going_down_gives_503_or_passes_never_500(
    site_factory: Any, idp: IdentityProvider, spare_redis: str, mode: str
) -> None:
    site = await site_factory(
        concurrent_seats=2, redis_url=spare_redis, on_store_error=mode, heartbeat_interval=60
    )
    browser = site.browser()
    assert (await browser.login(person(idp, f"down-{mode}@example.com"))).status_code == 200
    assert (await browser.get("/_halo/ready")).status_code == 200
    kill_redis(spare_redis)

    # Between heartbeats nothing asks the store, so nothing changes.
    assert (await browser.get("/")).status_code == 200
    site.shift_clock(61)
    page = await browser.get("/")
    api = await browser.get("/whoami", headers={"accept": "application/json"})
    if mode == "deny":
        assert page.status_code == 503
        assert "Licence service unavailable" in page.text
        assert api.status_code == 503
        assert api.json() == {"error": "store_unavailable"}
    else:
        assert page.status_code == 200
        assert api.status_code == 200
        assert "unverified" in api.json()["scopes"]
        assert site.gate.decider.unverified_requests == 2
    assert (await browser.get("/_halo/ready")).status_code == 503
    assert (await browser.get("/_halo/health")).text == "ok"
    # Signing in needs a decision, so it is refused plainly in both modes.
    late = site.browser()
    refused = await late.login(person(idp, f"late-{mode}@example.com"))
    assert refused.status_code == 503
    assert late.session_cookie is None
