"""A login storm at 1,000-way contention for a small pool: the licence engine against the
counting semaphore a user would otherwise write.

    python benchmarks/contention.py            # a readable table
    python benchmarks/contention.py --json     # one JSON object

Each of ``--people`` tasks (1,000) signs one person in: it asks for a slot, and when refused
(the pool is full) asks again after ``--backoff`` ms on average (jittered); once admitted it
holds the slot for ``--hold`` ms and gives it back. The storm ends when everyone has been
admitted once.

- **halo-gate**: ``LicenceEngine.admit`` and ``release``, one Lua script and one round trip
  each, against an installation with ``--slots`` concurrent slots.
- **baseline**: the classic semaphore: a sorted set of holders (member -> time taken, so a
  crashed holder expires) and a counter of admissions, with WATCH/MULTI: WATCH the set, count
  its live members, and if one is free MULTI, drop the expired, add the holder, count, EXEC.
  Another client's change to the set between WATCH and EXEC aborts the EXEC, and the attempt
  starts again (a retry). Three round trips when nothing conflicts; giving back is one ZREM.

Figures for each: admissions per second (people / storm time), the latency of one attempt until
its answer (admitted or refused; the baseline's WATCH retries included), p50 and p99, the
attempts refused for a full pool, the baseline's WATCH retries, and over-admissions: how many
admissions left more holders than slots. Holders are counted by the client, which counts a
holder after the answer and stops counting before giving the slot back, so the count never
exceeds what the server holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import WatchError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from halo_gate.licensing import LicenceEngine, connect  # noqa: E402
from halo_gate.licensing.options import POOL_SIZE, POOL_WAIT  # noqa: E402

GOAL_RATIO = 3.0
SEMAPHORE_TIMEOUT = 1800.0  # a holder expires after this long, as a session idles out


@dataclass
class Figures:
    admissions_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    refused: int = 0
    retries: int = 0
    over_admissions: int = 0
    max_holders: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)


class Tally:
    """Counts holders as the client sees them, and admissions past the slots."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.holders = 0
        self.figures = Figures()

    def admitted(self) -> None:
        self.holders += 1
        self.figures.max_holders = max(self.figures.max_holders, self.holders)
        if self.holders > self.slots:
            self.figures.over_admissions += 1

    def leaving(self) -> None:
        self.holders -= 1


Attempt = Callable[[str, str, Tally], Awaitable[bool]]
Release = Callable[[str, str], Awaitable[object]]


async def storm(
    people: int, slots: int, attempt: Attempt, release: Release, hold: float, backoff: float
) -> Figures:
    tally = Tally(slots)
    latencies = tally.figures.latencies

    async def sign_in(number: int) -> None:
        person, session = f"p{number}@x.org", uuid.uuid4().hex
        while True:
            started = time.perf_counter()
            admitted = await attempt(person, session, tally)
            latencies.append(time.perf_counter() - started)
            if admitted:
                tally.admitted()
                break
            tally.figures.refused += 1
            await asyncio.sleep(random.uniform(0, 2 * backoff))  # jittered, as clients do
        await asyncio.sleep(hold)
        tally.leaving()
        await release(person, session)

    started = time.perf_counter()
    await asyncio.gather(*(sign_in(number) for number in range(people)))
    figures = tally.figures
    figures.seconds = time.perf_counter() - started
    figures.admissions_per_s = people / figures.seconds
    ordered = sorted(latencies)
    figures.p50_ms = statistics.median(ordered) * 1000
    figures.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return figures


async def halo_gate(url: str, args: argparse.Namespace) -> Figures:
    store = connect(url)
    engine = LicenceEngine(store, instance="bench-contention-" + uuid.uuid4().hex[:8])
    try:
        await engine.configure(concurrent_seats=args.slots, named_seats=0)

        async def attempt(person: str, session: str, tally: Tally) -> bool:
            return (await engine.admit(person, session)).admitted

        return await storm(
            args.people, args.slots, attempt, engine.release, args.hold, args.backoff
        )
    finally:
        await drop(store, f"{{halo:{engine.keys.instance}}}:*")
        await store.aclose()


async def baseline(url: str, args: argparse.Namespace) -> Figures:
    # The same pool of connections as the engine's, so both wait for connections alike.
    pool = BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=POOL_WAIT)
    client = Redis.from_pool(pool)
    tag = "bench-semaphore-" + uuid.uuid4().hex[:8]
    holders, counter = f"{{{tag}}}:holders", f"{{{tag}}}:admissions"
    try:

        async def attempt(person: str, session: str, tally: Tally) -> bool:
            while True:
                async with client.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(holders)
                        now = time.time()
                        live = await pipe.zcount(holders, f"({now - SEMAPHORE_TIMEOUT}", "+inf")
                        if live >= args.slots:
                            await pipe.unwatch()  # type: ignore[no-untyped-call]
                            return False
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.zremrangebyscore(holders, "-inf", now - SEMAPHORE_TIMEOUT)
                        pipe.zadd(holders, {session: now})
                        pipe.incr(counter)
                        await pipe.execute()
                        return True
                    except WatchError:
                        tally.figures.retries += 1

        async def release(person: str, session: str) -> object:
            return await client.zrem(holders, session)

        return await storm(args.people, args.slots, attempt, release, args.hold, args.backoff)
    finally:
        await client.delete(holders, counter)
        await client.aclose()


async def drop(store: object, pattern: str) -> None:
    client: Redis = store  # type: ignore[assignment]
    keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
    if keys:
        await client.unlink(*keys)


def report(results: dict[str, Figures], args: argparse.Namespace) -> dict[str, object]:
    ratio = results["halo_gate"].admissions_per_s / results["baseline"].admissions_per_s
    return {
        "people": args.people,
        "slots": args.slots,
        "hold_ms": args.hold * 1000,
        "backoff_ms": args.backoff * 1000,
        **{
            name: {key: value for key, value in asdict(figures).items() if key != "latencies"}
            for name, figures in results.items()
        },
        "throughput_ratio": ratio,
        "goal": f">= {GOAL_RATIO}x the baseline's admissions/s, 0 over-admissions",
        "goal_met": ratio >= GOAL_RATIO
        and all(figures.over_admissions == 0 for figures in results.values()),
    }


def table(summary: dict[str, object]) -> str:
    rows = [
        ("admissions/s", "admissions_per_s", "{:,.0f}"),
        ("attempt p50 (ms)", "p50_ms", "{:.2f}"),
        ("attempt p99 (ms)", "p99_ms", "{:.2f}"),
        ("refused (pool full)", "refused", "{:,}"),
        ("WATCH retries", "retries", "{:,}"),
        ("over-admissions", "over_admissions", "{:,}"),
        ("most holders at once", "max_holders", "{:,}"),
        ("storm (s)", "seconds", "{:.2f}"),
    ]
    ours, theirs = summary["halo_gate"], summary["baseline"]
    assert isinstance(ours, dict) and isinstance(theirs, dict)
    lines = [
        f"{summary['people']:,} people, {summary['slots']} slots, hold {summary['hold_ms']:.0f} "
        f"ms, retry after {summary['backoff_ms']:.0f} ms",
        f"{'':24}{'halo-gate':>14}{'baseline':>14}",
    ]
    for label, key, shape in rows:
        lines.append(f"{label:24}{shape.format(ours[key]):>14}{shape.format(theirs[key]):>14}")
    lines.append(
        f"throughput ratio {summary['throughput_ratio']:.1f}x (goal {summary['goal']}): "
        f"{'met' if summary['goal_met'] else 'NOT met'}"
    )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, object]:
    results = {
        "halo_gate": await halo_gate(args.url, args),
        "baseline": await baseline(args.url, args),
    }
    return report(results, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--people", type=int, default=1000, help="people signing in at once")
    parser.add_argument("--slots", type=int, default=5, help="concurrent slots")
    parser.add_argument("--hold", type=float, default=0.0, help="ms a slot is held")
    parser.add_argument("--backoff", type=float, default=50.0, help="ms before asking again (mean)")
    args = parser.parse_args(argv)
    args.hold /= 1000
    args.backoff /= 1000
    summary = asyncio.run(run(args))
    print(json.dumps(summary, indent=2) if args.json else table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
