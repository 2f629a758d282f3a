"""Hostile input: huge and ever-different headers leave a worker's memory bounded, and arbitrary
bytes in the cookie, path, query and headers never give a 500 or an admission."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halo_gate import HaloGate
from halo_gate.session.cookies import CACHE_BUDGET, CookieReader
from tests.gateway.conftest import NO_IDP, SECRET, uvicorn_process

# Requests in the burst, each with a different Cookie header of HEADER_BYTES.
BURST = int(os.environ.get("HALO_GATE_MEMORY_BURST", "200"))
HEADER_BYTES = 1_000_000


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line")


@pytest.fixture
def worker() -> Iterator[tuple[str, int]]:
    """The Starlette example under uvicorn with httptools, which sets no limit on header size."""
    with uvicorn_process("examples.starlette_app:app", NO_IDP, "--http", "httptools") as running:
        yield running


async def test_distinct_huge_cookie_headers_leave_a_worker_bounded(worker: tuple[str, int]) -> None:
    url, pid = worker
    async with httpx.AsyncClient(headers={"accept": "application/json"}) as client:
        await client.get(url + "/api/whoami")
        before = rss_bytes(pid)
        for index in range(BURST):
            filler = f"{index:08d}".encode() * (HEADER_BYTES // 8)
            response = await client.get(
                url + "/api/whoami", headers={"cookie": f"x={filler.decode()}; halo_session=no"}
            )
            assert response.status_code == 401
    grown = rss_bytes(pid) - before
    # Without a bound, the worker keeps every header: BURST MB.
    assert grown < 40_000_000, f"the worker grew by {grown / 1e6:.0f} MB"


def test_the_cookie_reader_keeps_no_more_than_its_budget() -> None:
    reader = CookieReader("halo_session")
    for index in range(5000):
        header = f"halo_session=v{index}; pad={'x' * 3000}".encode()
        assert reader.read({"headers": [(b"cookie", header)]}) == f"v{index}"
        assert reader.cached_bytes <= CACHE_BUDGET
    huge = b"a=" + b"y" * 100_000 + b"; halo_session=big"
    assert reader.read({"headers": [(b"cookie", huge)]}) == "big"
    assert reader.cached_bytes <= CACHE_BUDGET


# The fuzzed gateway, built once: arbitrary requests on an embedded store.
_seen: list[Any] = []


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    _seen.append(scope["user"].is_authenticated)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


_gate = HaloGate(
    _app,
    secret_key=SECRET,
    oidc_issuer="http://127.0.0.1:9",
    oidc_client_id="client",
    oidc_client_secret="secret",
    redis_url=None,
    cookie_secure=False,
    public_paths="/public",
    passive_paths="/poll",
)

text = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))
header_names = st.sampled_from(
    [b"cookie", b"accept", b"origin", b"referer", b"host", b"content-type", b"x-other"]
)


async def _call(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"csrf_token=x", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await _gate(scope, receive, send)
    return int(sent[0]["status"])


@settings(
    max_examples=int(os.environ.get("HALO_GATE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
    prefix=st.sampled_from(["/", "/_halo/", "/public/", "/poll/", "/_halo/callback", "//"]),
    path=text,
    query=st.binary(max_size=200),
    headers=st.lists(st.tuples(header_names, st.binary(max_size=400)), max_size=6),
)
def test_arbitrary_requests_never_fail_and_never_admit(
    method: str, prefix: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    _seen.clear()
    status = asyncio.run(_call(method, prefix + path, query, headers))
    assert status != 500, status
    assert not any(_seen), "the app saw an authenticated user without a valid session"
    assert _gate.core.cookies.cached_bytes <= CACHE_BUDGET
    assert len(_gate.memory) == 0
