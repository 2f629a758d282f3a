"""Requests per second of an authenticated GET: through HaloGate, bare, behind SessionMiddleware.

    python benchmarks/gateway.py [--duration 5] [--rounds 5] [--connections 32]

Each variant is the same Starlette app served by uvicorn in its own process with the same
settings (``--loop`` and ``--http`` are passed to every one). HaloGate uses the real Redis
(``HALO_GATE_BENCH_REDIS_URL``, default redis://127.0.0.1:6379/0) under an installation of its own,
deleted at the end, and a cookie from a real login at the built-in identity provider; its
heartbeat interval is longer than the run, so every measured request falls between heartbeats.
SessionMiddleware carries a session of the same content. The load comes from ``wrk`` when it is
installed (one thread, pinned to its own CPU when there are two), otherwise from a small asyncio
client in this process. Variants alternate round by round; the median round of each is reported.

A second table calls the three apps directly as ASGI callables in this process, with the same
cookies: the microseconds each middleware adds to a request, without the HTTP server around it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, and uvicorn imports this module

from halo_gate import HaloGate  # noqa: E402
from halo_gate.cli.demo import start_identity_provider  # noqa: E402

REDIS_URL = os.environ.get("HALO_GATE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SESSION_SECRET = "benchmark-session-secret"
PERSON = "bench@example.com"
GOAL_OF_BARE = 0.85
GOAL_OF_SESSIONS = 1.3


# The app, as uvicorn factories (``--factory``); the server processes import this module.


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def start_session(request: Request) -> Response:
    # What HaloGate's cookie holds: session id, person, licence, last heartbeat.
    request.session.update(
        {"sid": uuid.uuid4().hex, "user": PERSON, "licence": "concurrent", "hb": time.time()}
    )
    return PlainTextResponse("started")


def bare() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def gated() -> HaloGate:
    return HaloGate(bare())  # configured from the HALO_GATE_* variables the driver sets


def sessions() -> Starlette:
    return Starlette(
        routes=[Route("/", hello), Route("/session/start", start_session)],
        middleware=[Middleware(SessionMiddleware, secret_key=SESSION_SECRET, https_only=False)],
    )


# The driver.


@dataclass(frozen=True)
class Variant:
    name: str
    url: str
    pid: int
    cookie: str = ""


@dataclass(frozen=True)
class Round:
    wall_rate: float  # requests per second as the client saw them
    cpu_rate: float  # requests per CPU-second of the server process: steady on a busy machine


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pinned(command: list[str], cpu: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *command]
    return command


def wait_until_serving(
    url: str, process: subprocess.Popen[bytes], what: str, seconds: float
) -> None:
    """Returns once ``url`` answers ``/_halo/health``; raises if ``process`` exits first or
    ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url + "/_halo/health", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextmanager
def serve(factory: str, env: dict[str, str], args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """One uvicorn process serving ``factory``; yields its base URL and pid once it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        f"benchmarks.gateway:{factory}",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        args.loop,
        "--http",
        args.http,
    ]
    process = subprocess.Popen(pinned(command, 0), cwd=ROOT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, f"uvicorn for {factory}", 20)
        yield url, process.pid  # taskset execs uvicorn, so the pid is the server's
    finally:
        process.terminate()
        process.wait(10)


def sign_in(base: str, sub: str) -> str:
    """A real login as a browser does it; returns the Cookie header value."""
    with httpx.Client(timeout=10) as browser:
        to_idp = browser.get(base + "/_halo/login", params={"next": "/"})
        authorize = to_idp.headers["location"]
        to_callback = browser.post(authorize, data={"sub": sub})
        callback = browser.get(urljoin(base, to_callback.headers["location"]))
        assert callback.status_code in (302, 303), callback.text
        cookie = f"halo_session={browser.cookies['halo_session']}"
        check = browser.get(base + "/", headers={"Accept": "application/json"})
        assert check.text == "hello", f"signed-in GET answered {check.status_code}"
        return cookie


def start_plain_session(base: str) -> str:
    with httpx.Client(timeout=10) as browser:
        browser.get(base + "/session/start").raise_for_status()
        return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def run_wrk(url: str, cookie: str, args: argparse.Namespace) -> int:
    """Requests completed by wrk in ``duration`` seconds."""
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(pinned(command, 1), capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failed requests:\n{output}")
    match = re.search(r"(\d+) requests in", output)
    if match is None:
        raise RuntimeError(f"no request count in wrk output:\n{output}")
    return int(match.group(1))


async def run_asyncio_client(url: str, cookie: str, args: argparse.Namespace) -> int:
    """Keep-alive HTTP/1.1 GETs on ``connections`` sockets for ``duration`` seconds."""
    host, port = url.removeprefix("http://").split(":")
    request = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n"
    request += f"Cookie: {cookie}\r\n" if cookie else ""
    payload = (request + "\r\n").encode()
    done = 0
    stop_at = time.monotonic() + args.duration

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        while time.monotonic() < stop_at:
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"request failed: {head[:60]!r}")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            done += 1
        writer.close()

    await asyncio.gather(*(connection() for _ in range(args.connections)))
    return done


def measure(variant: Variant, args: argparse.Namespace) -> Round:
    cpu_before, started = cpu_seconds(variant.pid), time.monotonic()
    if args.client == "wrk":
        done = run_wrk(variant.url + "/", variant.cookie, args)
    else:
        done = asyncio.run(run_asyncio_client(variant.url, variant.cookie, args))
    wall, cpu = time.monotonic() - started, cpu_seconds(variant.pid) - cpu_before
    return Round(wall_rate=done / wall, cpu_rate=done / cpu)


async def asgi_microseconds(app: ASGIApp, cookie: str, requests: int) -> float:
    """Microseconds per GET / calling ``app`` directly, the response checked and dropped."""
    headers = [(b"host", b"bench"), (b"accept", b"*/*")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    statuses: set[int] = set()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    started = time.process_time()  # CPU time: steadier than the wall clock on a busy machine
    for _ in range(requests):
        await app(dict(scope), receive, send)
    elapsed = time.process_time() - started
    if statuses != {200}:
        raise RuntimeError(f"in-process requests answered {sorted(statuses)}")
    return elapsed / requests * 1e6


async def in_process(gate_env: dict[str, str], args: argparse.Namespace) -> dict[str, list[float]]:
    """The three apps called directly; cookies come from the same logins as over HTTP."""
    settings = {name.removeprefix("HALO_GATE_").lower(): value for name, value in gate_env.items()}
    gate = HaloGate(bare(), **settings)
    plain_sessions = sessions()
    base = "http://bench"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url=base) as browser:
        to_idp = await browser.get("/_halo/login", params={"next": "/"})
        async with httpx.AsyncClient(timeout=10) as to_provider:
            back = await to_provider.post(to_idp.headers["location"], data={"sub": PERSON})
        await browser.get(back.headers["location"])
        gate_cookie = f"halo_session={browser.cookies['halo_session']}"
    transport = httpx.ASGITransport(app=plain_sessions)
    async with httpx.AsyncClient(transport=transport, base_url=base) as browser:
        (await browser.get("/session/start")).raise_for_status()
        session_cookie = f"session={browser.cookies['session']}"
    variants: list[tuple[str, ASGIApp, str]] = [
        ("HaloGate", gate, gate_cookie),
        ("bare", bare(), ""),
        ("SessionMiddleware", plain_sessions, session_cookie),
    ]
    results: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    try:
        for _, app, cookie in variants:  # warm-up
            await asgi_microseconds(app, cookie, 1000)
        for _ in range(args.rounds):
            for name, app, cookie in variants:
                results[name].append(await asgi_microseconds(app, cookie, args.asgi_requests))
    finally:
        await gate.aclose()
    return results


def drop_instance(instance: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{{halo:{instance}}}:*", count=1000):
            client.delete(key)
    finally:
        client.close()


def report_http(results: dict[str, list[Round]], args: argparse.Namespace) -> None:
    tool = "wrk -t1" if args.client == "wrk" else "asyncio client"
    print(
        f"Over HTTP: uvicorn --loop {args.loop} --http {args.http}, 1 process each; {tool}, "
        f"{args.connections} connections; median of {args.rounds} rounds of {args.duration} s"
    )
    wall = {
        name: statistics.median(r.wall_rate for r in rounds) for name, rounds in results.items()
    }
    cpu = {name: statistics.median(r.cpu_rate for r in rounds) for name, rounds in results.items()}
    print(f"  {'':<18} {'req/s':>8}   {'req per server CPU-second':>26}")
    for name in results:
        print(f"  {name:<18} {wall[name]:>8,.0f}   {cpu[name]:>26,.0f}")
    print("  by req/s:")
    print_ratios(wall["HaloGate"], wall["bare"], wall["SessionMiddleware"])
    print("  by requests per server CPU-second (steadier on a shared machine):")
    print_ratios(cpu["HaloGate"], cpu["bare"], cpu["SessionMiddleware"])


def report_in_process(results: dict[str, list[float]], args: argparse.Namespace) -> None:
    median = {name: statistics.median(values) for name, values in results.items()}
    print(
        f"In process (ASGI calls, no server, CPU time): median of {args.rounds} rounds of "
        f"{args.asgi_requests:,} requests"
    )
    for name, value in median.items():
        extra = f"   (+{value - median['bare']:.1f} us of middleware)" if name != "bare" else ""
        print(f"  {name:<18} {value:>8.1f} us of CPU per request{extra}")
    rate = {name: 1e6 / value for name, value in median.items()}
    print_ratios(rate["HaloGate"], rate["bare"], rate["SessionMiddleware"], goals=False)


def print_ratios(gate: float, bare: float, sessions: float, *, goals: bool = True) -> None:
    """The ratios; the goals are about a served request, so only HTTP tables judge them."""
    of_bare, of_sessions = gate / bare, gate / sessions
    for label, ratio, goal in (
        ("HaloGate / bare              ", of_bare, GOAL_OF_BARE),
        ("HaloGate / SessionMiddleware ", of_sessions, GOAL_OF_SESSIONS),
    ):
        judged = f"  (goal >= {goal}: {'met' if ratio >= goal else 'MISSED'})" if goals else ""
        print(f"  {label} {ratio:.2f}{judged}")
    print(f"  (bare / SessionMiddleware     {bare / sessions:.2f})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per HTTP round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per variant")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--asgi-requests", type=int, default=20_000, help="per in-process round")
    parser.add_argument("--loop", default="asyncio", help="uvicorn --loop for every variant")
    parser.add_argument("--http", default="h11", help="uvicorn --http for every variant")
    parser.add_argument(
        "--client",
        choices=["wrk", "asyncio"],
        default="wrk" if shutil.which("wrk") else "asyncio",
        help="load generator (wrk when installed)",
    )
    parser.add_argument("--skip-http", action="store_true", help="only the in-process table")
    args = parser.parse_args(argv)

    instance = "bench-" + uuid.uuid4().hex[:8]
    gate_env = {
        "HALO_GATE_SECRET_KEY": uuid.uuid4().hex,
        "HALO_GATE_REDIS_URL": REDIS_URL,
        "HALO_GATE_INSTANCE": instance,
        "HALO_GATE_CONCURRENT_SEATS": "5",
        "HALO_GATE_COOKIE_SECURE": "false",
        # No heartbeat falls inside the run: what is measured is the request between heartbeats.
        "HALO_GATE_HEARTBEAT_INTERVAL": "3600",
        "HALO_GATE_IDLE_TIMEOUT": "7200",
    }
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f} at start"
    )
    with start_identity_provider() as idp:
        gate_env |= {
            "HALO_GATE_OIDC_ISSUER": idp.issuer,
            "HALO_GATE_OIDC_CLIENT_ID": idp.client_id,
            "HALO_GATE_OIDC_CLIENT_SECRET": idp.client_secret,
        }
        idp.set_user(PERSON, email=PERSON, email_verified=True)
        try:
            report_in_process(asyncio.run(in_process(gate_env, args)), args)
            if not args.skip_http:
                report_http(over_http(gate_env, args), args)
        finally:
            drop_instance(instance)
    return 0


def over_http(gate_env: dict[str, str], args: argparse.Namespace) -> dict[str, list[Round]]:
    results: dict[str, list[Round]] = {"HaloGate": [], "bare": [], "SessionMiddleware": []}
    with (
        serve("gated", gate_env, args) as (gate_url, gate_pid),
        serve("bare", {}, args) as (bare_url, bare_pid),
        serve("sessions", {}, args) as (sessions_url, sessions_pid),
    ):
        variants = [
            Variant("HaloGate", gate_url, gate_pid, sign_in(gate_url, PERSON)),
            Variant("bare", bare_url, bare_pid),
            Variant(
                "SessionMiddleware", sessions_url, sessions_pid, start_plain_session(sessions_url)
            ),
        ]
        warm_up = argparse.Namespace(**{**vars(args), "duration": 1})
        for variant in variants:
            measure(variant, warm_up)
        for _ in range(args.rounds):
            for variant in variants:
                results[variant.name].append(measure(variant, args))
    return results


if __name__ == "__main__":
    sys.exit(main())
