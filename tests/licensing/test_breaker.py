"""The circuit breaker's states, on an injected clock (the gateway's use is proven end to end
in tests/gateway/test_e2e_store_faults.py)."""

from __future__ import annotations

from halo_gate.licensing.breaker import CircuitBreaker


def test_after_a_failure_requests_are_answered_at_once_until_one_probe_may_try() -> None:
    now = [100.0]
    breaker = CircuitBreaker(cooldown=3, probe_timeout=5, clock=lambda: now[0])
    assert breaker.allow() and not breaker.is_open
    breaker.failed()
    assert [breaker.allow() for _ in range(4)] == [False] * 4
    assert (breaker.trips, breaker.short_circuited) == (1, 4)
    now[0] += 3
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else while it is out
    breaker.failed()  # the probe failed: another cooldown
    assert not breaker.allow()
    now[0] += 3
    assert breaker.allow()
    breaker.succeeded()
    assert not breaker.is_open
    assert all(breaker.allow() for _ in range(3))
    assert (breaker.trips, breaker.short_circuited) == (1, 6)


def test_a_probe_that_never_reports_does_not_keep_the_breaker_open() -> None:
    now = [0.0]
    breaker = CircuitBreaker(cooldown=3, probe_timeout=5, clock=lambda: now[0])
    breaker.failed()
    now[0] = 3
    assert breaker.allow()  # its request is cancelled and never reports
    now[0] = 7
    assert not breaker.allow()
    now[0] = 8
    assert breaker.allow()
