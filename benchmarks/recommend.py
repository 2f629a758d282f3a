"""The recommendation on a 30-day record of 20,000 people, and what it costs the gateway.

    python benchmarks/recommend.py [--scale 40] [--days 30] [--price-named 100]
                                   [--price-concurrent 140] [--rate 400]

The record is the guide's organisation scaled to 20,000 people (``halo-gate simulate --scale
40``), loaded into the real Redis (``HALO_GATE_BENCH_REDIS_URL``) as the engine writes it, under
an installation of its own, deleted at the end. One gateway process (uvicorn, one worker, with
its default bounds for the planner) serves a signed-in person; a client in this process sends
that person's GETs at ``--rate`` requests a second on 4 connections and times each.

Three phases: before, while the gateway computes the recommendation (started by one
``GET /_halo/api/recommendation``, asked again every 5 s until it is no longer "computing"),
and after. Printed: the run's wall time and outcome, the planner process's peak memory (it
reports its own), the gateway's resident memory before and after, and the requests' p50, p99
and max per phase. The goal: p99 while computing within 1.5x of p99 without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gateway import (  # noqa: E402
    PERSON,
    drop_instance,
    free_port,
    sign_in,
    wait_until_serving,
)
from halo_gate.cli.demo import start_identity_provider  # noqa: E402
from halo_gate.planner.usage import read_usage_file  # noqa: E402

REDIS_URL = os.environ.get("HALO_GATE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "bench-admin-token-" + uuid.uuid4().hex
CONNECTIONS = 4
GOAL = 1.5
WINDOW = 10.0
DAY = 86400


def load_record(path: Path, instance: str) -> tuple[int, int]:
    """Writes the simulated sessions as the engine's record; returns (sessions, people)."""
    log = read_usage_file(path)
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"{{halo:{instance}}}:record:"
    pipe = client.pipeline(transaction=False)
    for n, (owner, start, end) in enumerate(
        zip(log.owner.tolist(), log.start.tolist(), log.end.tolist(), strict=True), start=1
    ):
        key = prefix + str(end // DAY)
        pipe.rpush(key, f"{start} {end - start} lc{log.people[owner]}")
        pipe.expire(key, 2 * DAY)  # gone even if this script is stopped halfway
        if n % 10_000 == 0:
            pipe.execute()
    pipe.execute()
    client.close()
    return len(log), len(log.people)


@contextmanager
def gateway(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """One uvicorn process (not pinned: the planner it starts goes where the kernel puts it)."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks.gateway:gated", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, "the gateway", 30)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)


def resident_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


Timed = list[tuple[float, float]]  # (when sent, latency), seconds


async def timed_requests(url: str, cookie: str, rate: float, stop: asyncio.Event) -> Timed:
    """GET / at ``rate`` a second until ``stop``, each timed."""
    latencies: Timed = []
    gap = CONNECTIONS / rate

    async def connection(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            began = time.perf_counter()
            answer = await client.get(url + "/", headers={"cookie": cookie, "accept": "*/*"})
            latencies.append((began, time.perf_counter() - began))
            if answer.status_code != 200:
                raise RuntimeError(f"GET / answered {answer.status_code}")
            await asyncio.sleep(max(0.0, gap - (time.perf_counter() - began)))

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(connection(client) for _ in range(CONNECTIONS)))
    return latencies


async def phase(url: str, cookie: str, rate: float, seconds: float) -> Timed:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return await timed_requests(url, cookie, rate, stop)


async def while_computing(url: str, cookie: str, rate: float) -> tuple[Timed, dict[str, Any]]:
    stop = asyncio.Event()
    load = asyncio.create_task(timed_requests(url, cookie, rate, stop))
    admin = {"authorization": f"Bearer {TOKEN}", "accept": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            answer = (await client.get(url + "/_halo/api/recommendation", headers=admin)).json()
            if answer["status"] != "computing":
                break
            await asyncio.sleep(5)
    stop.set()
    return await load, answer


def read_stored(instance: str) -> dict[str, Any]:
    """The stored outcome, with the planner process's own figures (its peak memory)."""
    client = redis.Redis.from_url(REDIS_URL)
    raw = client.get(f"{{halo:{instance}}}:recommendation")
    client.close()
    return dict(json.loads(raw)) if isinstance(raw, bytes) else {}


def figures(timed: Timed) -> str:
    ms = sorted(latency * 1000 for _, latency in timed)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{len(ms):>7,} requests  p50 {statistics.median(ms):6.1f} ms  p99 {p99:6.1f} ms  "
        f"max {ms[-1]:7.1f} ms"
    )


def windows(timed: Timed, seconds: float) -> list[Timed]:
    """``timed`` cut into consecutive windows of ``seconds``."""
    first = timed[0][0]
    cut: dict[int, Timed] = {}
    for sent, latency in timed:
        cut.setdefault(int((sent - first) // seconds), []).append((sent, latency))
    return [cut[k] for k in sorted(cut)]


def p99(timed: Timed) -> float:
    ordered = sorted(latency for _, latency in timed)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=40.0, help="times the guide's 500 people")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--price-named", default="100")
    parser.add_argument("--price-concurrent", default="140")
    parser.add_argument("--rate", type=float, default=400.0, help="GETs a second")
    parser.add_argument("--baseline", type=float, default=30.0, help="seconds before and after")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")

    instance = "bench-" + uuid.uuid4().hex[:8]
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory() as folder:
        usage = Path(folder) / "usage.csv"
        subprocess.run(
            [
                sys.executable, "-m", "halo_gate.cli", "simulate", "--profile", "guide",
                "--scale", str(args.scale), "--days", str(args.days), "--seed", str(args.seed),
                "--start", (today - timedelta(days=args.days)).isoformat(), "--output", str(usage),
            ],
            check=True,
            cwd=ROOT,
        )  # fmt: skip
        sessions, people = load_record(usage, instance)
    print(f"record: {sessions:,} sessions of {people:,} people over {args.days} days")
    env = {
        "HALO_GATE_SECRET_KEY": uuid.uuid4().hex,
        "HALO_GATE_REDIS_URL": REDIS_URL,
        "HALO_GATE_INSTANCE": instance,
        "HALO_GATE_CONCURRENT_SEATS": "5",
        "HALO_GATE_COOKIE_SECURE": "false",
        "HALO_GATE_HEARTBEAT_INTERVAL": "3600",
        "HALO_GATE_IDLE_TIMEOUT": "7200",
        "HALO_GATE_ADMIN_TOKEN": TOKEN,
        "HALO_GATE_PRICE_NAMED": args.price_named,
        "HALO_GATE_PRICE_CONCURRENT": args.price_concurrent,
    }
    try:
        with start_identity_provider() as idp:
            env |= {
                "HALO_GATE_OIDC_ISSUER": idp.issuer,
                "HALO_GATE_OIDC_CLIENT_ID": idp.client_id,
                "HALO_GATE_OIDC_CLIENT_SECRET": idp.client_secret,
            }
            idp.set_user(PERSON, email=PERSON, email_verified=True)
            with gateway(env) as (url, pid):
                cookie = sign_in(url, PERSON)
                rss_before, _ = resident_mib(pid)
                before = asyncio.run(phase(url, cookie, args.rate, args.baseline))
                began = time.monotonic()
                during, answer = asyncio.run(while_computing(url, cookie, args.rate))
                took = time.monotonic() - began
                rss_after, rss_peak = resident_mib(pid)
                after = asyncio.run(phase(url, cookie, args.rate, args.baseline))
        stored = read_stored(instance)
    finally:
        drop_instance(instance)

    print(f"prices {args.price_named}/{args.price_concurrent}: status {answer['status']}")
    plan = answer.get("plan")
    if isinstance(plan, dict):
        bound = plan.get("annual_cost_lower_bound")
        gap = (
            "" if bound is None else f", at most {plan['annual_cost'] - bound:,} above the optimum"
        )
        print(
            f"  {len(plan['named']):,} named + {plan['concurrent_slots']:,} concurrent, "
            f"{plan['annual_cost']:,} a year (proof: {plan['proof']}{gap})"
        )
    else:
        print(f"  {answer.get('message')}")
    print(
        f"run: {stored.get('seconds')} s in the planner's process (seen as computing for "
        f"{took:.0f} s); its peak memory {stored.get('rss_peak_mib')} MiB resident, "
        f"{stored.get('address_space_peak_mib')} MiB of address space"
    )
    print(
        f"gateway process: {rss_before:.0f} MiB resident before, {rss_after:.0f} MiB after, "
        f"peak {rss_peak:.0f} MiB"
    )
    print(f"GET / at {args.rate:.0f}/s through the gateway ({CONNECTIONS} connections):")
    print(f"  before          {figures(before)}")
    print(f"  while computing {figures(during)}")
    print(f"  after           {figures(after)}")
    cut = windows(sorted(during), WINDOW)
    worst = max(range(len(cut)), key=lambda k: p99(cut[k]))
    print(f"  while computing, the first {WINDOW:.0f} s (the worker sends the record):")
    print(f"                  {figures(cut[0])}")
    print(f"  while computing, the worst {WINDOW:.0f} s (from {worst * WINDOW:.0f} s):")
    print(f"                  {figures(cut[worst])}")
    ratio = p99(during) / p99(before + after)
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"  p99 while computing / without: {ratio:.2f} (goal <= {GOAL}: {verdict})")


if __name__ == "__main__":
    main()
