"""Figures for the licence engine against a real Redis server.

    python benchmarks/engine.py            # a readable table, with the goals' ratios
    python benchmarks/engine.py --json     # one JSON object

Throughput (PING, admit, heartbeat) is measured in the same run at the same client concurrency,
so the ratios compare the engine's scripts with the cheapest possible round trip. Latency is the
median of sequential admissions with 100 and with 100,000 live holders. Memory is the growth of
Redis's ``used_memory`` per live session, each person holding one session. Everything runs in an
installation of its own, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from halo_gate.licensing import LicenceEngine, connect  # noqa: E402

GOALS = {
    "admit_vs_ping": 0.7,
    "heartbeat_vs_ping": 0.8,
    "large_vs_small_p50": 1.5,
    "bytes_per_session": 512,
}
UNLIMITED = 10**9


async def drop(store: Redis, instance: str) -> None:
    batch: list[bytes] = []
    async for key in store.scan_iter(match=f"{{halo:{instance}}}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await store.unlink(*batch)
            batch.clear()
    if batch:
        await store.unlink(*batch)


async def rate(
    concurrency: int, ops: int, call: Callable[[int], Awaitable[object]], first: int = 0
) -> float:
    """Calls per second of ``call(i)`` for ``ops`` values of i from ``first``, ``concurrency``
    at a time."""
    counter = iter(range(first, first + ops))

    async def worker() -> None:
        for i in counter:
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ops / (time.perf_counter() - start)


def holder(i: int) -> tuple[str, str]:
    """The person and session id of the i-th holder."""
    return f"p{i}@example.org", f"s{i}"


async def fill(engine: LicenceEngine, people: int, tag: str, concurrency: int) -> None:
    """``people`` live holders, one session each, admitted ``concurrency`` at a time."""
    await rate(concurrency, people, lambda i: engine.admit(f"{tag}{i}@example.org", f"s-{tag}{i}"))


async def admit_p50_ms(engine: LicenceEngine, samples: int) -> float:
    """Median latency of one admission; each sampled session is released so the count holds."""
    timings = []
    for i in range(samples):
        person, session = f"probe{i}@example.org", f"probe-{i}"
        start = time.perf_counter()
        decision = await engine.admit(person, session)
        timings.append(time.perf_counter() - start)
        assert decision.admitted, decision
        await engine.release(person, session)
    return statistics.median(timings) * 1000


async def used_memory(store: Redis) -> int:
    info = await store.info("memory")
    return int(info["used_memory"])


async def measure(
    url: str, concurrency: int, ops: int, rounds: int, large: int, samples: int
) -> dict[str, float]:
    store = connect(url)
    assert isinstance(store, Redis)
    store.connection_pool.max_connections = concurrency + 8
    instance = "bench-" + uuid.uuid4().hex[:12]
    engine = LicenceEngine(store, instance=instance)
    try:
        await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await engine.admit("warm@example.org", "warm")  # opens connections, loads scripts
        await rate(concurrency, concurrency, lambda i: store.ping())
        # Interleaved rounds, medians reported: the server and this client share the machine's
        # cores with whatever else runs, so one round alone can be skewed.
        runs: dict[str, list[float]] = {"ping_per_s": [], "admit_per_s": [], "heartbeat_per_s": []}
        for r in range(rounds):
            runs["ping_per_s"].append(await rate(concurrency, ops, lambda i: store.ping()))
            admit = await rate(concurrency, ops, lambda i: engine.admit(*holder(i)), r * ops)
            beat = await rate(concurrency, ops, lambda i: engine.heartbeat(*holder(i)), r * ops)
            runs["admit_per_s"].append(admit)
            runs["heartbeat_per_s"].append(beat)
        figures: dict[str, float] = {name: statistics.median(v) for name, v in runs.items()}
        await drop(store, instance)

        # 100 live holders, then 100,000; the same probe at each size.
        await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await fill(engine, 100, "small", concurrency)
        figures["admit_p50_ms_small"] = await admit_p50_ms(engine, samples)
        await drop(store, instance)

        await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await fill(engine, 1, "first", 1)  # the installation's fixed keys exist before the baseline
        before = await used_memory(store)
        await fill(engine, large, "large", concurrency)
        after = await used_memory(store)
        figures["bytes_per_session"] = (after - before) / large
        figures["admit_p50_ms_large"] = await admit_p50_ms(engine, samples)
        figures["live_holders_large"] = (await engine.usage()).in_use
        figures["concurrency"] = concurrency
        return figures
    finally:
        await drop(store, instance)
        await store.aclose()


def ratios(figures: dict[str, float]) -> dict[str, float]:
    return {
        "admit_vs_ping": figures["admit_per_s"] / figures["ping_per_s"],
        "heartbeat_vs_ping": figures["heartbeat_per_s"] / figures["ping_per_s"],
        "large_vs_small_p50": figures["admit_p50_ms_large"] / figures["admit_p50_ms_small"],
        "bytes_per_session": figures["bytes_per_session"],
    }


def table(figures: dict[str, float]) -> str:
    lines = [f"{name:<22} {value:>12.3f}" for name, value in figures.items()]
    lines.append("")
    lines.append(f"{'goal':<22} {'measured':>12} {'target':>10}  met")
    for name, value in ratios(figures).items():
        target = GOALS[name]
        met = (
            value <= target
            if name in ("large_vs_small_p50", "bytes_per_session")
            else value >= target
        )
        sign = "<=" if name in ("large_vs_small_p50", "bytes_per_session") else ">="
        lines.append(f"{name:<22} {value:>12.3f} {sign} {target:<7}  {'yes' if met else 'NO'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--concurrency", type=int, default=32, help="client tasks at once")
    parser.add_argument("--ops", type=int, default=20_000, help="calls per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (median)")
    parser.add_argument("--large", type=int, default=100_000, help="live holders for the large p50")
    parser.add_argument("--samples", type=int, default=1000, help="admissions per p50")
    options = parser.parse_args()
    figures = asyncio.run(
        measure(
            options.url,
            options.concurrency,
            options.ops,
            options.rounds,
            options.large,
            options.samples,
        )
    )
    if options.json:
        print(json.dumps({**figures, **{f"ratio_{k}": v for k, v in ratios(figures).items()}}))
    else:
        print(table(figures))


if __name__ == "__main__":
    main()
