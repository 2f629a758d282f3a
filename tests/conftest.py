"""Shared fixtures: the real Redis server and the embedded store, one fresh installation each."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from halo_gate.licensing import LicenceEngine, Store, connect

REDIS_URL = os.environ.get("HALO_GATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_instance() -> str:
    """An installation of its own, so that test runs sharing the server never meet."""
    return "test-" + uuid.uuid4().hex[:12]


async def drop_instance(store: Store, instance: str) -> None:
    async for key in store.scan_iter(match=f"{{halo:{instance}}}:*", count=1000):
        await store.delete(key)


@pytest.fixture(params=["redis", "fakeredis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Every store implementation: the contract suite runs over each."""
    client: Store = Redis.from_url(REDIS_URL) if request.param == "redis" else connect(None)
    yield client
    await client.aclose()


@pytest.fixture
async def real_store() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def engine(store: Store) -> AsyncIterator[LicenceEngine]:
    instance = unique_instance()
    yield LicenceEngine(store, instance=instance, idle_timeout=1800, session_max_age=43200)
    await drop_instance(store, instance)
