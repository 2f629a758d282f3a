"""Where an admission's client time goes: the engine's path built up step by step, each step's
client CPU per call measured in the same run.

    python benchmarks/engine_steps.py            # a table
    python benchmarks/engine_steps.py --json     # one JSON object

Each step is a way of making the same admission on the shared Redis (a fresh holder each call,
``--concurrency`` tasks at once), from PING to ``LicenceEngine.admit``:

- ``ping``: PING, the baseline;
- ``command``: the admission's FCALL, its keys and arguments, sent straight through redis-py;
- ``run``: the same through the engine's ``_run`` (clock offset, error mapping, the call's keys);
- ``frame``: ``run`` awaited from one more coroutine;
- ``decision``: ``frame`` and the reply read into a ``Decision``;
- ``checks``: ``decision`` and what an admission checks besides (the hints, whether the reply
  leaves the decision elsewhere or asks to harvest);
- ``admit``: ``LicenceEngine.admit``, the whole path (``engine_us``: its time over ``command``).

Rounds take the steps in an order that turns every round; each figure is the median over rounds
of this process's CPU time per call (the client's work: the server's is on its own core).
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis  # noqa: E402

from benchmarks.compare import bare  # noqa: E402
from benchmarks.engine import UNLIMITED, drop, holder, rate  # noqa: E402
from halo_gate.licensing import LicenceEngine, connect  # noqa: E402
from halo_gate.licensing.calls import decide_elsewhere, to_harvest  # noqa: E402
from halo_gate.licensing.results import Decision  # noqa: E402

Step = Callable[[int], Awaitable[object]]


def steps(store: Any, engines: dict[str, LicenceEngine]) -> dict[str, Step]:
    """Each step's call for the i-th holder, on an installation of its own."""

    def run(engine: LicenceEngine, person: str, session_id: str) -> Awaitable[Any]:
        return engine._run("admit", person, person, session_id, 0, engine.pool_rules.generation)

    async def frame(i: int) -> Any:
        return await run(engines["frame"], *holder(i))

    async def decision(i: int) -> Decision:
        return Decision.from_reply(await run(engines["decision"], *holder(i)))

    async def checks(i: int) -> Decision:
        engine = engines["checks"]
        person, session_id = holder(i)
        reply = await run(engine, person, session_id)
        if decide_elsewhere(reply) or to_harvest(reply) is not None:
            raise RuntimeError("the benchmark's pool was full")
        made = Decision.from_reply(reply)
        engine._hints.decided(session_id, made.admitted)
        return made

    return {
        "ping": lambda i: store.ping(),
        "command": bare(engines["command"], "admit"),
        "run": lambda i: run(engines["run"], *holder(i)),
        "frame": frame,
        "decision": decision,
        "checks": checks,
        "admit": lambda i: engines["admit"].admit(*holder(i)),
    }


async def measure(url: str, concurrency: int, ops: int, rounds: int) -> dict[str, float]:
    store = connect(url)
    assert isinstance(store, Redis)
    store.connection_pool.max_connections = concurrency + 8
    tag = uuid.uuid4().hex[:12]
    names = ("command", "run", "frame", "decision", "checks", "admit")
    engines = {name: LicenceEngine(store, instance=f"steps-{name}-{tag}") for name in names}
    try:
        for engine in engines.values():
            await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
            await engine.admit(*holder(-1))  # opens connections, loads the library
        calls = steps(store, engines)
        order = list(calls)
        cpu: dict[str, list[float]] = {name: [] for name in order}
        for r in range(rounds):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                started = time.process_time()
                await rate(concurrency, ops, calls[name], r * ops)
                cpu[name].append((time.process_time() - started) / ops * 1e6)
        figures = {f"{name}_client_us": statistics.median(values) for name, values in cpu.items()}
        figures["engine_us"] = figures["admit_client_us"] - figures["command_client_us"]
        return figures
    finally:
        for engine in engines.values():
            await drop(store, engine.keys.instance)
        await store.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--concurrency", type=int, default=32, help="client tasks at once")
    parser.add_argument("--ops", type=int, default=10_000, help="calls per step and round")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (median)")
    options = parser.parse_args(argv)
    figures = asyncio.run(measure(options.url, options.concurrency, options.ops, options.rounds))
    if options.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:<28} {value:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
