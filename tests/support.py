"""Helpers shared by the test suite."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from collections.abc import Callable

import httpx

from halo_gate import HaloGate
from halo_gate.gateway.forward import ForwardAuth

HTML = {"accept": "text/html"}


def gate_of(app: ForwardAuth) -> HaloGate:
    """The gateway a forward-auth service hands its other requests to."""
    assert isinstance(app.app, HaloGate)
    return app.app


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_out(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Signs out as a person would: the sign-out page, then its form posted from the site."""
    page = await client.get(base_url + "/_halo/logout", headers={**(headers or {}), **HTML})
    found = CSRF_FIELD.search(page.text)
    token = found.group(1) if found else ""
    posted = {
        **(headers or {}),
        "origin": base_url,
        "content-type": "application/x-www-form-urlencoded",
    }
    return await client.post(
        base_url + "/_halo/logout", content=f"csrf_token={token}", headers=posted
    )


async def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Polls ``check`` until it holds; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.01)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_health(url: str, process: subprocess.Popen[str], what: str) -> httpx.Response:
    """``url``'s ``/_halo/health`` once ``process`` serves it; fails naming ``what`` if the
    process exits or 30 s pass first."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url + "/_halo/health")
        except httpx.TransportError:
            assert process.poll() is None, f"{what} exited"
            assert time.monotonic() < deadline, f"{what} did not answer"
            time.sleep(0.1)
