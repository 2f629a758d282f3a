"""Figures for the console's and the CLI's reads at scale, against a real Redis server.

    python benchmarks/admin.py            # 10,000 live sessions and 100 waiters: a quick run
    python benchmarks/admin.py --full     # 100,000 live sessions and 1,000 waiters
    python benchmarks/admin.py --json     # one JSON object

An installation of its own is filled with live sessions (100 of them named, the pool exactly
full) and a waiting line, then each read the console, the API and the CLI make is run alone
and the store's SLOWLOG gives its longest Redis call (every call of this process is logged for
the duration: the threshold is set to 0 and put back afterwards). Then other clients'
heartbeats and admissions are timed for a while without a console, and for as long again with
a console polling as a browser tab does (every 3 s: usage, a page of licence holders, the line,
the named seats; every 10 s: the 24 h history and a page of the audit log), from a process of
its own, as a gateway worker would serve it. The installation is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.engine import drop, rate  # noqa: E402
from halo_gate.admin.operations import Operations  # noqa: E402
from halo_gate.config import Settings  # noqa: E402
from halo_gate.licensing import LicenceEngine  # noqa: E402

NAME = "halo-bench-admin"
NAMED = 100
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOALS = {"longest_call_ms": 5.0, "p99_ratio": 1.5}
Read = Callable[[Operations], Awaitable[object]]


def person(i: int) -> str:
    return f"p{i:06d}@example.org"


def reads(sessions: int) -> list[tuple[str, Read]]:
    """(name, read) for each console, API and CLI read, in the order measured."""
    middle = sessions // 2
    return [
        ("GET usage (console, CLI status)", lambda ops: ops.usage()),
        ("GET licences, first page of 25", lambda ops: ops.licences(limit=25)),
        ("GET licences, a page in the middle", lambda ops: ops.licences(offset=middle, limit=25)),
        (
            "GET licences?search= (by the beginning of a name)",
            lambda ops: ops.licences(search=person(middle)),
        ),
        ("CLI licences list (50)", lambda ops: ops.licences(limit=50)),
        ("GET sessions, a page of 25 holders", lambda ops: ops.sessions(limit=25)),
        ("GET queue, first page of 25", lambda ops: ops.queue(limit=25)),
        ("GET named", lambda ops: ops.named()),
        ("GET capacity", lambda ops: ops.capacity()),
        ("GET events, a page of 25", lambda ops: ops.events(limit=25)),
        ("GET events?person= (through the index)", lambda ops: ops.events(person=person(7))),
        ("CLI events (50)", lambda ops: ops.events(limit=50)),
        ("GET history 24h", lambda ops: ops.history("24h")),
        ("GET history 7d, first read", lambda ops: ops.history("7d")),
        ("GET history 7d, again", lambda ops: ops.history("7d")),
        ("GET history 30d", lambda ops: ops.history("30d")),
        ("DELETE sessions/{id}", lambda ops: ops.end_session("s-" + person(middle + 1), by="b")),
        ("DELETE licences/{person}", lambda ops: ops.end_licence(person(middle + 2), by="b")),
        ("reference: sessions.lua's walk", lambda ops: ops.engine.sessions()),
    ]


class SlowLog:
    """Logs every call for the duration, then puts the server's settings back."""

    def __init__(self, store: Redis) -> None:
        self.store = store
        self.saved: dict[str, Any] = {}

    async def __aenter__(self) -> SlowLog:
        for name in ("slowlog-log-slower-than", "slowlog-max-len"):
            found: dict[Any, Any] = await self.store.config_get(name)
            self.saved[name] = _text(next(iter(found.values())))
        await self.store.config_set("slowlog-max-len", 20000)
        await self.store.config_set("slowlog-log-slower-than", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            await self.store.config_set(name, value)

    async def last_id(self) -> int:
        entries = await self.store.slowlog_get(1)
        return int(entries[0]["id"]) if entries else -1

    async def since(self, first: int) -> list[dict[str, Any]]:
        entries = await self.store.slowlog_get(20000)
        return [
            e for e in entries if int(e["id"]) > first and _text(e.get("client_name", b"")) == NAME
        ]


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def build(engine: LicenceEngine, sessions: int, waiters: int) -> None:
    await engine.configure(
        concurrent_seats=sessions - NAMED,
        named_seats=NAMED,
        named_users=[person(i) for i in range(NAMED)],
    )
    await rate(
        64,
        sessions,
        lambda i: engine.admit(person(i), "s-" + person(i), user_agent=AGENT, address="10.1.2.3"),
    )
    for i in range(waiters):
        decision = await engine.admit(f"w{i:05d}@example.org", f"w-{i}", user_agent=AGENT)
        assert decision.position == i + 1, decision


async def measure_reads(ops: Operations, store: Redis, sessions: int) -> list[dict[str, Any]]:
    rows = []
    async with SlowLog(store) as log:
        for name, read in reads(sessions):
            first = await log.last_id()
            start = time.perf_counter()
            await read(ops)
            wall = time.perf_counter() - start
            calls = await log.since(first)
            longest = max(calls, key=lambda e: e["duration"], default=None)
            rows.append(
                {
                    "read": name,
                    "commands": len(calls),
                    "longest_call_ms": round(longest["duration"] / 1000, 3) if longest else 0,
                    "longest_command": _text(longest["command"])[:40] if longest else "",
                    "wall_ms": round(wall * 1000, 2),
                }
            )
    return rows


async def load(
    engine: LicenceEngine, sessions: int, seconds: float, per_second: int
) -> list[float]:
    """Latencies (ms) of other clients' calls for ``seconds``: heartbeats of live sessions, and
    one in ten an admission of a named person on a new session (released again)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    tasks = 16
    gap = tasks / per_second

    async def client(k: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            i = random.randrange(NAMED, sessions)
            if n % 10 == 0:
                who, session = person(random.randrange(NAMED)), f"x-{k}-{n}"
                await engine.admit(who, session)
                latencies.append((time.perf_counter() - started) * 1000)
                await engine.release(who, session)
            else:
                await engine.heartbeat(person(i), "s-" + person(i))
                latencies.append((time.perf_counter() - started) * 1000)
            n += 1
            await asyncio.sleep(max(0.0, gap - (time.perf_counter() - started)))

    await asyncio.gather(*(client(k) for k in range(tasks)))
    return latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def poll(url: str, instance: str) -> None:
    """One console tab's polling, as a gateway worker serves it (``--poller``): says "ready",
    then polls between a line "poll" and a line "stop" on its input, until the input ends."""
    engine = LicenceEngine(Redis.from_url(url), instance=instance, idle_timeout=3600)
    ops = Operations(engine, _settings(url, instance))
    loop = asyncio.get_running_loop()
    polling: asyncio.Task[None] | None = None

    async def tab() -> None:
        tick = 0
        while True:
            parts = [ops.usage(), ops.licences(limit=25), ops.queue(limit=25), ops.named()]
            if tick % 3 == 0:
                parts += [ops.history("24h"), ops.events(limit=25)]
            await asyncio.gather(*parts)
            tick += 1
            await asyncio.sleep(3)

    print("ready", flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "poll" and polling is None:
            polling = asyncio.create_task(tab())
        elif line.strip() == "stop" and polling is not None:
            polling.cancel()
            polling = None
    await engine.store.aclose()


def _settings(url: str, instance: str) -> Settings:
    return Settings.load(
        {},
        secret_key="a-benchmark-key-0123456789",
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="x",
        oidc_client_secret="x",
        redis_url=url,
        instance=instance,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sessions = 100_000 if args.full else args.sessions
    waiters = 1000 if args.full else args.waiters
    instance = f"bench-admin-{uuid.uuid4().hex[:8]}"
    store = Redis.from_url(args.url, client_name=NAME)
    others = Redis.from_url(args.url, client_name=NAME + "-others")
    engine = LicenceEngine(
        store, instance=instance, idle_timeout=3600, queue_max=waiters + 10, queue_grace=3600
    )
    loaded = LicenceEngine(
        others, instance=instance, idle_timeout=3600, queue_max=waiters + 10, queue_grace=3600
    )
    try:
        started = time.perf_counter()
        await build(engine, sessions, waiters)
        built = time.perf_counter() - started
        rows = await measure_reads(
            Operations(engine, _settings(args.url, instance)), store, sessions
        )
        # Windows without and with a console polling, in turn, so that the machine's other
        # work falls on both alike.
        poller = subprocess.Popen(
            [sys.executable, __file__, "--poller", instance, "--url", args.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert poller.stdin is not None and poller.stdout is not None
        assert poller.stdout.readline().strip() == "ready"
        quiet: list[float] = []
        polled: list[float] = []
        window = args.seconds / args.rounds
        for _ in range(args.rounds):
            quiet += await load(loaded, sessions, window, args.rate)
            poller.stdin.write("poll\n")
            poller.stdin.flush()
            polled += await load(loaded, sessions, window, args.rate)
            poller.stdin.write("stop\n")
            poller.stdin.flush()
        poller.stdin.close()
        poller.wait(timeout=60)
        poller.stdout.close()
        return {
            "sessions": sessions,
            "waiters": waiters,
            "build_seconds": round(built, 1),
            "reads": rows,
            "p99_ms_without_console": round(p99(quiet), 3),
            "p99_ms_with_console": round(p99(polled), 3),
            "p99_ratio": round(p99(polled) / p99(quiet), 3),
            "calls_timed": [len(quiet), len(polled)],
            "goals": GOALS,
        }
    finally:
        await drop(store, instance)
        await store.aclose()
        await others.aclose()


def table(result: dict[str, Any]) -> str:
    out = [
        f"{result['sessions']:,} live sessions, {result['waiters']:,} waiting "
        f"(built in {result['build_seconds']} s)",
        f"{'read':<40} {'commands':>8} {'longest call ms':>16} {'wall ms':>9}  longest command",
    ]
    for row in result["reads"]:
        out.append(
            f"{row['read']:<40} {row['commands']:>8} {row['longest_call_ms']:>16} "
            f"{row['wall_ms']:>9}  {row['longest_command']}"
        )
    out.append(
        f"other clients' p99: {result['p99_ms_without_console']} ms without a console, "
        f"{result['p99_ms_with_console']} ms with one polling: "
        f"{result['p99_ratio']}x (goal at most {GOALS['p99_ratio']}x)"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--full", action="store_true", help="100,000 sessions, 1,000 waiters")
    parser.add_argument("--sessions", type=int, default=10_000, help="live sessions (10,000)")
    parser.add_argument("--waiters", type=int, default=100, help="people waiting (100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="each load phase (30 s)")
    parser.add_argument("--rounds", type=int, default=6, help="windows of each phase, in turn")
    parser.add_argument("--rate", type=int, default=200, help="other clients' calls a second")
    parser.add_argument("--poller", metavar="INSTANCE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.poller:
        asyncio.run(poll(args.url, args.poller))
        return 0
    result = asyncio.run(run(args))
    print(json.dumps(result) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
