"""Every key of an installation lives in one Redis Cluster slot, so every script runs on Cluster."""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from halo_gate.admin.ended import EndedListener
from halo_gate.licensing import LicenceEngine, Store, connect

from ..conftest import drop_instance, unique_instance
from .exercise import exercise_every_script

pytestmark = pytest.mark.slow

CLUSTER_PORTS = (7100, 7101, 7102)


async def installation_keys(store: Store, engine: LicenceEngine) -> list[bytes]:
    return [key async for key in store.scan_iter(match=engine.keys.prefix + "*", count=1000)]


async def test_every_key_of_every_script_maps_to_one_slot(
    engine: LicenceEngine, store: Store
) -> None:
    await exercise_every_script(engine)
    keys = await installation_keys(store, engine)
    names = {key.decode().removeprefix(engine.keys.prefix).split(":")[0] for key in keys}
    every_kind = {"config", "pool", "active", "named", "quarantine", "ended", "audit"}
    assert every_kind | {"sessions", "history", "record"} <= names
    slots = {key_slot(key) for key in keys}
    declared = (engine.keys.config, engine.keys.sessions("anyone@x.org"))
    slots |= {key_slot(key.encode()) for key in declared}
    assert len(slots) == 1


async def test_scripts_create_no_key_outside_the_installation() -> None:
    store = connect(None)  # a private server: every key on it is ours to see
    engine = LicenceEngine(store, instance=unique_instance())
    try:
        await exercise_every_script(engine)
        everything = [key async for key in store.scan_iter(count=1000)]
        assert everything
        assert all(key.decode().startswith(engine.keys.prefix) for key in everything)
    finally:
        await store.aclose()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def answers(port: int) -> bool:
    return cli(port, "ping").strip() == "PONG"


def cluster_ok(port: int) -> bool:
    return "cluster_state:ok" in cli(port, "cluster", "info")


def cli(port: int, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=30
    )
    return done.stdout


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A real three-master Redis Cluster on this suite's ports, stopped afterwards."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server is not installed")
    servers = []
    try:
        for port in CLUSTER_PORTS:
            folder = tmp_path / str(port)
            folder.mkdir()
            servers.append(
                subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                     "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--save", "", "--appendonly", "no", "--dir", str(folder)],
                    stdout=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in CLUSTER_PORTS:
            wait_until(functools.partial(answers, port), f"node {port}")
        nodes = [f"127.0.0.1:{port}" for port in CLUSTER_PORTS]
        cli(CLUSTER_PORTS[0], "--cluster", "create", *nodes, "--cluster-yes")
        for port in CLUSTER_PORTS:
            wait_until(functools.partial(cluster_ok, port), f"cluster state on {port}")
        yield f"redis+cluster://127.0.0.1:{CLUSTER_PORTS[0]}"
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)


@pytest.fixture
async def cluster_engine(cluster: str) -> AsyncIterator[LicenceEngine]:
    store = connect(cluster)
    instance = unique_instance()
    yield LicenceEngine(store, instance=instance)
    await store.aclose()


async def test_decisions_run_on_a_real_redis_cluster(cluster_engine: LicenceEngine) -> None:
    engine = cluster_engine
    await exercise_every_script(engine)
    await engine.configure(concurrent_seats=2, named_seats=3)  # Gus holds one slot
    decisions = await asyncio.gather(*(engine.admit(f"p{i}@x.org", f"p{i}") for i in range(10)))
    assert [d.outcome for d in decisions].count("admitted") == 1
    usage = await engine.usage()
    assert (usage.concurrent_seats, usage.in_use) == (2, 2)
    assert (await engine.heartbeat("gus@x.org", "gus-1")).outcome == "renewed"
    assert await engine.release("gus@x.org", "gus-1") is True
    # The nine refused wait in line: a newcomer queues behind them, the head takes the slot.
    late = await engine.admit("hal@x.org", "hal-1")
    assert (late.outcome, late.position) == ("pool_full", 10)
    first_waiter = next(i for i, d in enumerate(decisions) if d.position == 1)
    retry = await engine.admit(f"p{first_waiter}@x.org", f"p{first_waiter}-again")
    assert retry.outcome == "admitted"
    await drop_instance(engine.store, engine.keys.instance)


async def test_ended_announcements_reach_a_listener_on_cluster(
    cluster_engine: LicenceEngine,
) -> None:
    """Sharded pub/sub: announcements arrive, junk on the channel is ignored, and the quiet
    subscription answers its PINGs instead of being replaced."""
    engine = cluster_engine
    heard: list[tuple[str, list[str]]] = []
    listener = EndedListener(
        engine, lambda reason, ids: heard.append((reason, ids)), check_every=0.2
    )
    listener.start()
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        await asyncio.sleep(0.7)  # a few PINGs answered
        await engine.store.spublish(engine.keys.ended_channel, "")
        await engine.announce_ended("admin", ["s-1"])
        for _ in range(500):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [("admin", ["s-1"])]
        assert (listener.malformed, listener.replaced) == (1, 0)
    finally:
        await listener.stop()
