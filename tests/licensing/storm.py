"""A worker process for the concurrency tests: many asyncio tasks calling the engine at once.

It lives outside the test module so that ``multiprocessing`` (spawn) can import it cheaply.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine

Call = Literal["admit", "heartbeat", "release", "usage"]


@dataclass(frozen=True)
class Task:
    """One asyncio task: ``call`` made ``repeat`` times in a row (stopping once admitted)."""

    call: Call
    person: str = ""
    session: str = ""
    repeat: int = 1
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    url: str
    instance: str
    clock_offset: float
    start_at: float  # wall-clock moment every process starts its tasks, so they overlap
    tasks: tuple[Task, ...]
    harvest_idle: int = 0  # the engine's harvest threshold (s, 0: off)


@dataclass(frozen=True)
class Result:
    call: Call
    person: str
    outcome: str  # a Decision's outcome, "released"/"not_live", or "usage"
    in_use: int  # the pool's use the engine reported with the answer


async def _run_task(engine: LicenceEngine, task: Task) -> list[Result]:
    results = []
    for _ in range(task.repeat):
        if task.call == "usage":
            usage = await engine.usage()
            results.append(Result(task.call, "", "usage", usage.in_use))
            continue
        if task.call == "release":
            live = await engine.release(task.person, task.session)
            outcome = "released" if live else "not_live"
            results.append(Result(task.call, task.person, outcome, -1))
            continue
        call = engine.admit if task.call == "admit" else engine.heartbeat
        decision = await call(task.person, task.session, groups=task.groups)
        results.append(Result(task.call, task.person, decision.outcome, decision.in_use))
        if decision.admitted and task.call == "admit":
            break
    return results


async def _run_job(job: Job) -> list[Result]:
    store = Redis.from_url(job.url, max_connections=len(job.tasks) + 4)
    try:
        engine = LicenceEngine(store, instance=job.instance, harvest_idle=job.harvest_idle)
        engine.clock_offset = job.clock_offset
        # One connection per task, opened before the start so that the tasks really overlap.
        await asyncio.gather(*(store.ping() for _ in job.tasks))
        await engine.usage()  # loads the scripts
        await asyncio.sleep(max(0.0, job.start_at - time.time()))
        per_task = await asyncio.gather(*(_run_task(engine, task) for task in job.tasks))
        return [result for results in per_task for result in results]
    finally:
        await store.aclose()


def ready(_: int) -> int:
    """Answers once this worker is up; slow enough that one worker cannot take every call."""
    time.sleep(0.2)
    return os.getpid()


def run(job: Job) -> tuple[int, list[Result]]:
    """The entry point each worker process runs; answers with its process id and results."""
    return os.getpid(), asyncio.run(_run_job(job))
