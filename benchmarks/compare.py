"""The engine as it is against the engine of another git revision, in the same run.

    python benchmarks/compare.py --before REV          # a table, with the goals' ratios
    python benchmarks/compare.py --before REV --json   # one JSON object

That revision's ``halo_gate/licensing`` is taken from git into a temporary package. Three
engines are measured: the one ``before``, this one by FCALL (``fcall``), and this one as on a
server without functions (``evalsha``: the same operations as scripts).

Throughput, on the server of ``--url`` (the shared one by default): each round measures PING,
then admissions and heartbeats by each engine, in an order that turns every round; each ratio
pairs figures of the same round, and the median over rounds is reported. The client's CPU time
per call is reported too (``*_client_us``), and ``*_client_vs_ping`` is the ratio the
throughput would have if the server's work cost nothing: what the Python client alone allows.

A fourth row, ``bare``, sends the very commands this engine sends for an admission and a
renewal (the same FCALL, keys and arguments) straight through redis-py, with no engine code
around them: the most any engine calling these functions through redis-py can reach here.

Redis time, on a private redis-server started for it (``--no-server`` leaves it out): the
microseconds the server spends per admission and per heartbeat (INFO commandstats), each engine
in turn making sequential calls, without rules and with the five groups of
``benchmarks/engine.py``'s pools, so that other clients' work on a shared server does not count.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.engine import GROUPS, POOL_CAP, POOL_RESERVE, UNLIMITED, drop, holder, rate  # noqa: E402
from benchmarks.scale import private_server  # noqa: E402
from halo_gate.licensing import LicenceEngine, connect  # noqa: E402

GOALS = {"admit_vs_ping": 0.8, "heartbeat_vs_ping": 0.85}

ROOT = Path(__file__).resolve().parent.parent


def by_holder(call: Callable[[str, str], Awaitable[object]]) -> Callable[[int], Awaitable[object]]:
    """``call`` for the i-th holder."""
    return lambda i: call(*holder(i))


def bare(engine: LicenceEngine, name: str) -> Callable[[int], Awaitable[object]]:
    """The i-th holder's call of operation ``name`` as ``engine`` sends it (FCALL, its keys and
    arguments), made directly on the store: no engine code before or after it."""
    calls = engine._calls
    operation = calls.library.operations[name]
    settings = calls._settings_for(0)

    def call(i: int) -> Awaitable[object]:
        person, session_id = holder(i)
        keys = calls._keys(operation, person, ())
        # As the engine calls it without pool rules: person, session, not a named group, and
        # the rules' generation.
        arguments = (settings, person, session_id, 0, engine.pool_rules.generation)
        return engine.store.execute_command(
            "FCALL", operation.function, len(keys), *keys, *arguments
        )

    return call


def engine_at(revision: str) -> Any:
    """The ``LicenceEngine`` class of ``halo_gate/licensing`` at git ``revision``, imported as
    a package of its own (``halo_before.licensing``) from a temporary folder."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "halo_gate/licensing"],
        capture_output=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="halo-before-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "halo_gate").rename(folder / "halo_before")
    (folder / "halo_before" / "__init__.py").write_text("")
    sys.path.insert(0, str(folder))
    return importlib.import_module("halo_before.licensing").LicenceEngine


async def measure_compare(
    url: str, concurrency: int, ops: int, rounds: int, revision: str
) -> dict[str, float]:
    """The engine at ``revision`` against this one, by FCALL and by EVALSHA, in paired rounds."""
    store = connect(url)
    assert isinstance(store, Redis)
    store.connection_pool.max_connections = concurrency + 8
    tag = uuid.uuid4().hex[:12]
    engines: dict[str, Any] = {
        "before": engine_at(revision)(store, instance=f"bench-before-{tag}"),
        "fcall": LicenceEngine(store, instance=f"bench-fcall-{tag}"),
        "evalsha": LicenceEngine(store, instance=f"bench-evalsha-{tag}"),
        "bare": LicenceEngine(store, instance=f"bench-bare-{tag}"),
    }
    engines["evalsha"]._calls.functions = False  # as on a server without functions
    calls = {name: (by_holder(e.admit), by_holder(e.heartbeat)) for name, e in engines.items()}
    calls["bare"] = (bare(engines["bare"], "admit"), bare(engines["bare"], "renew"))
    try:
        for engine in engines.values():
            await engine.configure(concurrent_seats=UNLIMITED, named_seats=0)
            await engine.admit(*holder(-1))  # opens connections, loads the Lua
        runs: dict[str, list[float]] = {}

        async def timed(name: str, call: Callable[[int], Awaitable[object]], first: int) -> None:
            # Calls per second, and this process's CPU time per call (the client's work).
            cpu = time.process_time()
            runs.setdefault(f"{name}_per_s", []).append(await rate(concurrency, ops, call, first))
            runs.setdefault(f"{name}_client_us", []).append((time.process_time() - cpu) / ops * 1e6)

        names = list(engines)
        for r in range(rounds):
            await timed("ping", lambda i: store.ping(), 0)
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                await timed(f"{name}_admit", calls[name][0], r * ops)
                await timed(f"{name}_heartbeat", calls[name][1], r * ops)
        figures = {name: statistics.median(values) for name, values in runs.items()}
        for name in names:
            for kind in ("admit", "heartbeat"):
                ours, ping = runs[f"{name}_{kind}_per_s"], runs["ping_per_s"]
                figures[f"{name}_{kind}_vs_ping"] = statistics.median(
                    a / b for a, b in zip(ours, ping, strict=True)
                )
                # The same ratio had the server no cost: PING's client time over this call's.
                figures[f"{name}_{kind}_client_vs_ping"] = statistics.median(
                    b / a
                    for a, b in zip(
                        runs[f"{name}_{kind}_client_us"], runs["ping_client_us"], strict=True
                    )
                )
                if name in ("fcall", "evalsha"):
                    theirs = runs[f"before_{kind}_per_s"]
                    figures[f"{name}_{kind}_vs_before"] = statistics.median(
                        a / b for a, b in zip(ours, theirs, strict=True)
                    )
        return figures
    finally:
        for engine in engines.values():
            await drop(store, engine.keys.instance)
        await store.aclose()


async def measure_server(revision: str, calls: int) -> dict[str, float]:
    """Redis microseconds per admission and per heartbeat of each engine, on a private server."""
    figures: dict[str, float] = {}
    async with private_server(0) as url:
        store = connect(url)
        assert isinstance(store, Redis)
        engines: dict[str, Any] = {
            "before": engine_at(revision),
            "fcall": LicenceEngine,
            "evalsha": LicenceEngine,
        }
        try:
            for rules in (False, True):
                for name, engine_class in engines.items():
                    engine = engine_class(store, instance=f"server-{name}-{rules}")
                    if name == "evalsha":
                        engine._calls.functions = False
                    pools = {"pool_reserve": POOL_RESERVE, "pool_cap": POOL_CAP} if rules else {}
                    await engine.configure(concurrent_seats=UNLIMITED, named_seats=0, **pools)
                    await engine.admit(*holder(-1))  # loads the Lua
                    for kind in ("admit", "heartbeat"):
                        call = getattr(engine, kind)
                        await store.config_resetstat()
                        for i in range(calls):
                            await call(*holder(i), groups=(GROUPS[i % 5], "staff"))
                        stats = await store.info("commandstats")
                        used = sum(
                            int(stats.get(f"cmdstat_{command}", {}).get("usec", 0))
                            for command in ("fcall", "evalsha", "script|load", "function|load")
                        )
                        label = f"{name}_{kind}{'_pools' if rules else ''}_redis_us"
                        figures[label] = used / calls
                    await drop(store, engine.keys.instance)
        finally:
            await store.aclose()
    return figures


def table(figures: dict[str, float]) -> str:
    lines = [f"{name:<36} {value:>12.3f}" for name, value in figures.items()]
    lines += ["", f"{'goal':<36} {'measured':>12} {'target':>10}  met"]
    for name, target in GOALS.items():
        value = figures.get(f"fcall_{name}")
        if value is not None:
            met = "yes" if value >= target else "NO"
            lines.append(f"{name:<36} {value:>12.3f} >= {target:<7.3f}  {met}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--before", default="HEAD", help="the git revision to measure against")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--concurrency", type=int, default=32, help="client tasks at once")
    parser.add_argument("--ops", type=int, default=10_000, help="calls per throughput round")
    parser.add_argument("--rounds", type=int, default=9, help="throughput rounds (median)")
    parser.add_argument("--calls", type=int, default=3000, help="calls per Redis time figure")
    parser.add_argument("--no-server", action="store_true", help="no private server's figures")
    options = parser.parse_args()
    figures = asyncio.run(
        measure_compare(
            options.url, options.concurrency, options.ops, options.rounds, options.before
        )
    )
    if not options.no_server:
        figures |= asyncio.run(measure_server(options.before, options.calls))
    print(json.dumps(figures) if options.json else table(figures))


if __name__ == "__main__":
    main()
