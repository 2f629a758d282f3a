"""One bounded run of the planner's process (``planning``), fed the session record by the
worker that started it.

The worker does no planning and holds no record: it copies the store's entries to the
process's stdin a chunk at a time, as the store returned them, and waits on the process's
answer without blocking its event loop. As the process starts, before it has read anything,
the worker bounds it (on Linux): its address space (``RLIMIT_AS``), so an outsized record fails
with a reason instead of pushing the host into swap; its CPU time (``RLIMIT_CPU``), so it ends
even if the worker died; and its scheduling (``SCHED_IDLE``): it runs only on CPU time nothing
else wants, so a request arriving on its core preempts it at once. Numerical libraries get one
thread each. The worker kills the process at the wall-clock bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..licensing import LicenceEngine
from ..licensing.records import ClosedSession, encode_entry, now, record_chunks

MIB = 2**20
TIME_BOUND = 600.0  # seconds of wall clock per run, reading the record included
MEMORY_BOUND = 4096 * MIB  # address space of the planner's process
# The planner stops searching at this share of the time bound and answers with the best split
# found, leaving the rest for reading the record and the work after the search.
SEARCH_SHARE = 0.75
PLANNER = (sys.executable, "-m", "halo_gate.admin.planning")
LOWEST_PRIORITY = 19  # niceness, where SCHED_IDLE is refused
# Numerical libraries on one thread each: the planner takes one core, never the gateway's.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True, kw_only=True)
class Bounds:
    """What one run of the planner may take, and the command that runs it."""

    seconds: float = TIME_BOUND
    memory: int = MEMORY_BOUND
    command: tuple[str, ...] = PLANNER

    @property
    def search_seconds(self) -> float:
        return self.seconds * SEARCH_SHARE

    @property
    def cpu_seconds(self) -> int:
        return math.ceil(self.seconds)


def failed(reason: str) -> dict[str, Any]:
    return {"status": "failed", "reason": reason}


async def run_planner(
    engine: LicenceEngine, bounds: Bounds, params: dict[str, Any], days: tuple[int, int]
) -> dict[str, Any]:
    """The planner's outcome on the sessions closed on ``days`` (first, last) and those still
    open: ``{"status": "ok", ...}`` or ``failed``. Raises ``StoreUnavailable`` when the record
    cannot be read; the process is gone when this returns or raises."""
    # The process needs no secret: it gets none of the gateway's settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALO_GATE_")} | ONE_THREAD
    process = await asyncio.create_subprocess_exec(
        *bounds.command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _bound(process.pid, bounds)
    sent = 0
    answered = asyncio.ensure_future(process.communicate())
    try:
        async with asyncio.timeout(bounds.seconds):
            try:
                sent = await _send(engine, process, params, days)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the process ended early: its answer says why
            out, err = await answered
    except TimeoutError:
        of = f" on {sent:,} sessions" if sent else ""
        return failed(
            f"The planner did not finish{of} within its time bound of {bounds.seconds:g} s."
        )
    finally:
        answered.cancel()
        if process.returncode is None:
            process.kill()
            await process.wait()
    return _outcome(process.returncode, out, err, bounds)


def _bound(pid: int, bounds: Bounds) -> None:
    """The bounds above, on Linux; elsewhere only the wall-clock bound holds."""
    if sys.platform != "linux":
        return
    import resource

    cpu = bounds.cpu_seconds
    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (bounds.memory, bounds.memory))
        resource.prlimit(pid, resource.RLIMIT_CPU, (cpu, cpu + 5))
    except ProcessLookupError:  # it ended already: nothing left to bound
        return
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except OSError:  # refused (a restricted container): the lowest priority instead
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, LOWEST_PRIORITY)


async def _send(
    engine: LicenceEngine,
    process: asyncio.subprocess.Process,
    params: dict[str, Any],
    days: tuple[int, int],
) -> int:
    """Writes the parameters, the record and the end line; returns how many sessions."""
    pipe = process.stdin
    assert pipe is not None
    pipe.write(json.dumps(params).encode() + b"\n")
    count = 0
    async for entries in record_chunks(engine, *days):
        lines, sent = _lines(entries)
        pipe.write(lines)
        count += sent
        await pipe.drain()
    at = int(await now(engine))
    _, live = await engine.sessions()
    opened = [
        encode_entry(ClosedSession(s.person, s.licence, int(s.since), at, "open")) for s in live
    ]
    lines, sent = _lines(opened)
    pipe.write(lines + f"end {count + sent}\n".encode())
    await pipe.drain()
    pipe.close()
    return count + sent


def _lines(entries: Sequence[bytes | str]) -> tuple[bytes, int]:
    """Entries one a line, and how many. Joined as they are: a line break inside one (a
    person's name may hold any character) would split it, so such entries are left out."""
    raw = [entry if isinstance(entry, bytes) else entry.encode() for entry in entries]
    lines = b"\n".join(raw) + b"\n"
    if lines.count(b"\n") != len(raw):
        raw = [entry for entry in raw if b"\n" not in entry]
        lines = b"\n".join(raw) + b"\n"
    return (lines, len(raw)) if raw else (b"", 0)


def _outcome(returncode: int | None, out: bytes, err: bytes, bounds: Bounds) -> dict[str, Any]:
    if returncode == 0:
        try:
            answer = json.loads(out)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("status") in ("ok", "failed"):
            return answer
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return failed(f"The planner used up its CPU time bound of {bounds.cpu_seconds} s.")
    last = err.decode(errors="replace").strip().splitlines()[-1:]
    said = f": {last[0]}" if last else "."
    return failed(f"The planner stopped with exit status {returncode}{said}")
