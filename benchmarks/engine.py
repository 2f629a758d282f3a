"""Figures for the licence engine against a real Redis server.

    python benchmarks/engine.py            # a readable table, with the goals' ratios
    python benchmarks/engine.py --json     # one JSON object

Throughput (PING, admit, heartbeat) is measured in the same run at the same client concurrency,
so the ratios compare the engine's scripts with the cheapest possible round trip. Latency is the
median of sequential admissions with 100 and with 100,000 live holders. Memory is the growth of
Redis's ``used_memory`` per live session, each person holding one session. Everything runs in an
installation of its own, deleted at the end.

Department pools are measured apart, in the same run: two installations, one without pool rules
and one with five groups (two reservations, three caps, every person in one of the groups),
get the same admissions, heartbeats and probes in turn; the ratios compare them, and the memory
figure is the difference in their keys' bytes per session.

The waiting line is measured the same way (``--only queue``): an installation with
``HALO_GATE_QUEUE=off`` against one with the line on and nobody waiting, so the ratios are what
the line costs an admission while the pool has room.

Harvesting is measured the same way too (``--only harvest``): an installation with
``HALO_GATE_HARVEST_IDLE`` off against one with it on (600 s) and nobody idle, first admitting
while the pool has room, then refusing while it is full of holders who are all active (the line
off, so every call is a plain refusal, the case where harvesting looks for an idle holder); the
ratios are the time per call with harvesting on over the time with it off, paired by round.
The difference is small against the noise of a shared machine, so this runs six times the
rounds, each of a fifth of the calls, and reports the median of the paired ratios.

The engine as it is against the engine of another revision: ``benchmarks/compare.py``.
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
    "admit_vs_ping": 0.8,
    "heartbeat_vs_ping": 0.85,
    "large_vs_small_p50": 1.5,
    "bytes_per_session": 512,
    "record_bytes_per_closed_session": 128,
    "pools_admit_per_s_vs_plain": 1 / 1.2,
    "pools_admit_p50_vs_plain": 1.2,
    "pools_extra_bytes_per_session": 64,
    "queue_admit_per_s_vs_off": 0.95,
    "queue_admit_p50_vs_off": 1.05,
    "harvest_admit_cost_vs_off": 1.05,
    "harvest_full_cost_vs_off": 1.05,
}
LOWER_IS_BETTER = (
    "large_vs_small_p50",
    "bytes_per_session",
    "record_bytes_per_closed_session",
    "pools_admit_p50_vs_plain",
    "pools_extra_bytes_per_session",
    "queue_admit_p50_vs_off",
    "harvest_admit_cost_vs_off",
    "harvest_full_cost_vs_off",
)
GROUPS = ("service-desk", "vip", "hr", "finance", "facilities")
POOL_RESERVE = {"service-desk": 10**6, "vip": 10**6}
POOL_CAP = {"hr": 10**8, "finance": 10**8, "facilities": 10**8}
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


async def admit_p50_ms(engines: list[LicenceEngine], samples: int) -> list[float]:
    """Median latency of one admission into each installation, probed in turn so that both
    meet the same conditions; each probe's session is released so the count of holders holds."""
    timings: list[list[float]] = [[] for _ in engines]
    for i in range(samples):
        person, session = f"probe{i}@example.org", f"probe-{i}"
        for n in range(len(engines)):
            engine = engines[(n + i) % len(engines)]  # alternate which goes first
            start = time.perf_counter()
            decision = await engine.admit(person, session)
            timings[(n + i) % len(engines)].append(time.perf_counter() - start)
            assert decision.admitted, decision
            await engine.release(person, session)
    return [statistics.median(t) * 1000 for t in timings]


async def key_memory(store: Redis, instance: str) -> dict[str, int]:
    """MEMORY USAGE of the installation's keys, by kind (sessions, pool, audit, ...)."""
    kinds: dict[str, int] = {}
    keys = [key async for key in store.scan_iter(match=f"{{halo:{instance}}}:*", count=5000)]
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        async with store.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.memory_usage(key, samples=0)
            sizes = await pipe.execute()
        for key, size in zip(batch, sizes, strict=True):
            kind = key.decode().split("}:", 1)[1].split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + int(size or 0)
    return kinds


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
        # Each ratio pairs figures from the same round, then takes the median over rounds.
        for name in ("admit", "heartbeat"):
            paired = zip(runs[f"{name}_per_s"], runs["ping_per_s"], strict=True)
            figures[f"{name}_vs_ping"] = statistics.median(ours / ping for ours, ping in paired)
        await drop(store, instance)

        # An installation with 100 live holders and one with 100,000, probed alternately.
        small = LicenceEngine(store, instance=instance + "-small")
        await small.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await fill(small, 100, "small", concurrency)

        await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await fill(engine, 1, "first", 1)  # the installation's fixed keys exist before the baseline
        before = await used_memory(store)
        await fill(engine, large, "large", concurrency)
        after = await used_memory(store)
        figures["bytes_per_session"] = (after - before) / large
        # The same from the keys themselves: other users of a shared server move used_memory.
        kinds = await key_memory(store, instance)
        figures["key_bytes_per_session"] = sum(kinds.values()) / large
        for kind, size in sorted(kinds.items()):
            figures[f"key_bytes_per_session_{kind}"] = size / large
        p50_small, p50_large = await admit_p50_ms([small, engine], samples)
        figures["admit_p50_ms_small"] = p50_small
        figures["admit_p50_ms_large"] = p50_large
        figures["live_holders_large"] = (await engine.usage()).in_use
        figures["record_bytes_per_closed_session"] = await record_bytes(engine, large)
        figures["concurrency"] = concurrency
        return figures
    finally:
        await drop(store, instance)
        await drop(store, instance + "-small")
        await store.aclose()


async def record_bytes(engine: LicenceEngine, people: int) -> float:
    """MEMORY USAGE of the session record per closed session, after the ``large`` holders
    (``large<i>@example.org``, a typical address) log out."""
    await rate(32, people, lambda i: engine.release(f"large{i}@example.org", f"s-large{i}"))
    keys = [key async for key in engine.store.scan_iter(match=engine.keys.key("record:*"))]
    sizes = [int(await engine.store.memory_usage(key, samples=0) or 0) for key in keys]
    return sum(sizes) / people


async def measure_pools(
    url: str, concurrency: int, ops: int, rounds: int, people: int, samples: int
) -> dict[str, float]:
    """Admission without pool rules against admission with five groups, in turn."""
    store = connect(url)
    assert isinstance(store, Redis)
    store.connection_pool.max_connections = concurrency + 8
    tag = uuid.uuid4().hex[:12]
    plain = LicenceEngine(store, instance=f"bench-plain-{tag}")
    pooled = LicenceEngine(store, instance=f"bench-pools-{tag}")
    engines = (plain, pooled)
    try:
        await plain.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await pooled.configure(
            concurrent_seats=UNLIMITED, named_seats=0, pool_reserve=POOL_RESERVE, pool_cap=POOL_CAP
        )

        def admit(engine: LicenceEngine, beat: bool = False) -> Callable[[int], Awaitable[object]]:
            call = engine.heartbeat if beat else engine.admit
            # Everyone is in one of the five groups; the engine passes only those to the store.
            return lambda i: call(*holder(i), groups=(GROUPS[i % 5], "staff", "everyone"))

        for engine in engines:
            await admit(engine)(-1)  # opens connections, loads scripts
        runs: dict[str, list[float]] = {}
        for r in range(rounds):
            pairs = list(zip(("plain", "pools"), engines, strict=True))
            for name, engine in pairs if r % 2 == 0 else pairs[::-1]:  # each goes first in turn
                admitted = await rate(concurrency, ops, admit(engine), r * ops)
                beats = await rate(concurrency, ops, admit(engine, beat=True), r * ops)
                runs.setdefault(f"{name}_admit_per_s", []).append(admitted)
                runs.setdefault(f"{name}_heartbeat_per_s", []).append(beats)
        figures = {name: statistics.median(values) for name, values in runs.items()}
        for kind in ("admit", "heartbeat"):
            paired = zip(runs[f"pools_{kind}_per_s"], runs[f"plain_{kind}_per_s"], strict=True)
            figures[f"pools_{kind}_per_s_vs_plain"] = statistics.median(a / b for a, b in paired)
        p50_plain, p50_pools = await admit_p50_ms(list(engines), samples)
        figures["plain_admit_p50_ms"], figures["pools_admit_p50_ms"] = p50_plain, p50_pools
        for engine in engines:
            await drop(store, engine.keys.instance)
        await plain.configure(concurrent_seats=UNLIMITED, named_seats=0)
        await pooled.configure(
            concurrent_seats=UNLIMITED, named_seats=0, pool_reserve=POOL_RESERVE, pool_cap=POOL_CAP
        )
        per_session = []
        for engine in engines:
            await rate(concurrency, people, admit(engine))
            kinds = await key_memory(store, engine.keys.instance)
            per_session.append(sum(kinds.values()) / people)
        figures["plain_key_bytes_per_session"], figures["pools_key_bytes_per_session"] = per_session
        figures["pools_extra_bytes_per_session"] = per_session[1] - per_session[0]
        figures["pools_people"] = people
        return figures
    finally:
        for engine in engines:
            await drop(store, engine.keys.instance)
        await store.aclose()


async def measure_harvest(
    url: str, concurrency: int, ops: int, rounds: int, holders: int = 100
) -> dict[str, float]:
    """Admissions and refusals with harvesting off against on with nobody idle, in turn."""
    store = connect(url)
    assert isinstance(store, Redis)
    store.connection_pool.max_connections = concurrency + 8
    tag = uuid.uuid4().hex[:12]
    engines = {
        "off": LicenceEngine(store, instance=f"bench-harvest-off-{tag}", queue=False),
        "on": LicenceEngine(
            store, instance=f"bench-harvest-on-{tag}", queue=False, harvest_idle=600
        ),
    }

    def admitting(engine: LicenceEngine) -> Callable[[int], Awaitable[object]]:
        return lambda i: engine.admit(*holder(i))

    rounds, ops = rounds * 6, max(ops // 5, concurrency)
    try:
        runs: dict[str, list[float]] = {}
        for phase in ("admit", "full"):
            for engine in engines.values():
                await drop(store, engine.keys.instance)
                await engine.configure(
                    concurrent_seats=UNLIMITED if phase == "admit" else holders, named_seats=0
                )
                await fill(engine, 1 if phase == "admit" else holders, "h", concurrency)
            for r in range(rounds):
                pairs = list(engines.items())
                for name, engine in pairs if r % 2 == 0 else pairs[::-1]:
                    done = await rate(concurrency, ops, admitting(engine), r * ops)
                    runs.setdefault(f"harvest_{name}_{phase}_per_s", []).append(done)
        figures = {name: statistics.median(values) for name, values in runs.items()}
        for phase in ("admit", "full"):
            paired = zip(
                runs[f"harvest_off_{phase}_per_s"], runs[f"harvest_on_{phase}_per_s"], strict=True
            )
            figures[f"harvest_{phase}_cost_vs_off"] = statistics.median(a / b for a, b in paired)
        return figures
    finally:
        for engine in engines.values():
            await drop(store, engine.keys.instance)
        await store.aclose()


async def measure_queue(
    url: str, concurrency: int, ops: int, rounds: int, samples: int
) -> dict[str, float]:
    """Admission with the line off against the line on with nobody waiting, in turn."""
    store = connect(url)
    assert isinstance(store, Redis)
    store.connection_pool.max_connections = concurrency + 8
    tag = uuid.uuid4().hex[:12]
    off = LicenceEngine(store, instance=f"bench-queue-off-{tag}", queue=False)
    on = LicenceEngine(store, instance=f"bench-queue-on-{tag}")
    engines = (off, on)

    def admitting(engine: LicenceEngine) -> Callable[[int], Awaitable[object]]:
        return lambda i: engine.admit(*holder(i))

    try:
        for engine in engines:
            await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
            await engine.admit(*holder(-1))
        runs: dict[str, list[float]] = {}
        for r in range(rounds):
            pairs = list(zip(("off", "on"), engines, strict=True))
            for name, engine in pairs if r % 2 == 0 else pairs[::-1]:
                admitted = await rate(concurrency, ops, admitting(engine), r * ops)
                runs.setdefault(f"queue_{name}_admit_per_s", []).append(admitted)
        figures = {name: statistics.median(values) for name, values in runs.items()}
        paired = zip(runs["queue_on_admit_per_s"], runs["queue_off_admit_per_s"], strict=True)
        figures["queue_admit_per_s_vs_off"] = statistics.median(a / b for a, b in paired)
        p50_off, p50_on = await admit_p50_ms(list(engines), samples)
        figures["queue_off_admit_p50_ms"], figures["queue_on_admit_p50_ms"] = p50_off, p50_on
        return figures
    finally:
        for engine in engines:
            await drop(store, engine.keys.instance)
        await store.aclose()


def ratios(figures: dict[str, float]) -> dict[str, float]:
    found: dict[str, float] = {}
    if "admit_vs_ping" in figures:
        found.update(
            admit_vs_ping=figures["admit_vs_ping"],
            heartbeat_vs_ping=figures["heartbeat_vs_ping"],
            large_vs_small_p50=figures["admit_p50_ms_large"] / figures["admit_p50_ms_small"],
            bytes_per_session=figures["bytes_per_session"],
            record_bytes_per_closed_session=figures["record_bytes_per_closed_session"],
        )
    if "pools_admit_p50_ms" in figures:
        found.update(
            pools_admit_per_s_vs_plain=figures["pools_admit_per_s_vs_plain"],
            pools_admit_p50_vs_plain=figures["pools_admit_p50_ms"] / figures["plain_admit_p50_ms"],
            pools_extra_bytes_per_session=figures["pools_extra_bytes_per_session"],
        )
    if "queue_on_admit_p50_ms" in figures:
        found.update(
            queue_admit_per_s_vs_off=figures["queue_admit_per_s_vs_off"],
            queue_admit_p50_vs_off=figures["queue_on_admit_p50_ms"]
            / figures["queue_off_admit_p50_ms"],
        )
    if "harvest_admit_cost_vs_off" in figures:
        found.update(
            harvest_admit_cost_vs_off=figures["harvest_admit_cost_vs_off"],
            harvest_full_cost_vs_off=figures["harvest_full_cost_vs_off"],
        )
    return found


def table(figures: dict[str, float]) -> str:
    lines = [f"{name:<34} {value:>12.3f}" for name, value in figures.items()]
    lines.append("")
    lines.append(f"{'goal':<34} {'measured':>12} {'target':>10}  met")
    for name, value in ratios(figures).items():
        target = GOALS[name]
        met = value <= target if name in LOWER_IS_BETTER else value >= target
        sign = "<=" if name in LOWER_IS_BETTER else ">="
        lines.append(f"{name:<34} {value:>12.3f} {sign} {target:<7.3f}  {'yes' if met else 'NO'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--concurrency", type=int, default=32, help="client tasks at once")
    parser.add_argument("--ops", type=int, default=10_000, help="calls per throughput round")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (median)")
    parser.add_argument("--large", type=int, default=100_000, help="live holders for the large p50")
    parser.add_argument("--samples", type=int, default=1000, help="admissions per p50")
    parser.add_argument(
        "--pools-people", type=int, default=20_000, help="live holders per pools memory figure"
    )
    parser.add_argument(
        "--only",
        choices=("engine", "pools", "queue", "harvest"),
        help="measure only the engine, the pools, the waiting line or harvesting",
    )
    options = parser.parse_args()
    figures: dict[str, float] = {}
    if options.only == "queue":
        figures |= asyncio.run(
            measure_queue(
                options.url, options.concurrency, options.ops, options.rounds, options.samples
            )
        )
    if options.only in (None, "harvest"):
        figures |= asyncio.run(
            measure_harvest(options.url, options.concurrency, options.ops, options.rounds)
        )
    if options.only in (None, "engine"):
        figures |= asyncio.run(
            measure(
                options.url,
                options.concurrency,
                options.ops,
                options.rounds,
                options.large,
                options.samples,
            )
        )
    if options.only in (None, "pools"):
        figures |= asyncio.run(
            measure_pools(
                options.url,
                options.concurrency,
                options.ops,
                options.rounds,
                options.pools_people,
                options.samples,
            )
        )
    if options.json:
        print(json.dumps({**figures, **ratios(figures)}))
    else:
        print(table(figures))


if __name__ == "__main__":
    main()
