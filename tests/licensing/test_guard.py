"""The store guard: every store call bounded in time, failures counted and turned into
``StoreUnavailable``, the breaker consulted and told."""

from __future__ import annotations

import asyncio

import pytest

from halo_gate.licensing import StoreUnavailable
from halo_gate.licensing.breaker import CircuitBreaker
from halo_gate.licensing.guard import StoreGuard


def guard_on(now: list[float], timeout: float = 0.05) -> StoreGuard:
    breaker = CircuitBreaker(cooldown=3, probe_timeout=5, clock=lambda: now[0])
    return StoreGuard(timeout=timeout, breaker=breaker)


async def test_an_answer_passes_through_and_closes_nothing_open() -> None:
    guard = guard_on([0.0])

    async def answer() -> int:
        return 7

    assert await guard.call(answer) == 7
    assert (guard.errors, guard.breaker.trips) == (0, 0)


async def test_a_hang_is_one_timeout_then_the_breaker_answers_without_calling() -> None:
    now = [0.0]
    guard = guard_on(now)
    calls = 0

    async def hang() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)

    with pytest.raises(StoreUnavailable):
        await guard.call(hang)
    for _ in range(3):
        with pytest.raises(StoreUnavailable, match="circuit open"):
            await guard.call(hang)
    assert calls == 1
    assert (guard.errors, guard.breaker.trips, guard.breaker.short_circuited) == (1, 1, 3)


async def test_socket_errors_become_store_unavailable_and_are_counted() -> None:
    guard = guard_on([0.0])

    async def refused() -> None:
        raise ConnectionRefusedError("no store")

    with pytest.raises(StoreUnavailable, match="ConnectionRefusedError"):
        await guard.call(refused)
    assert guard.errors == 1
    assert guard.breaker.is_open


async def test_ungated_calls_reach_the_store_while_open_and_close_the_breaker() -> None:
    now = [0.0]
    guard = guard_on(now)

    async def fail() -> None:
        raise OSError("down")

    async def answer() -> str:
        return "back"

    with pytest.raises(StoreUnavailable):
        await guard.call(fail)
    with pytest.raises(StoreUnavailable):
        await guard.call(answer)  # gated: refused while open
    assert await guard.call(answer, gated=False) == "back"
    assert not guard.breaker.is_open
    assert await guard.call(answer) == "back"
