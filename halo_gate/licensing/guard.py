"""The one way the gateway calls the licence store: a time bound, the circuit breaker, and every
store failure turned into ``StoreUnavailable``, counted for metrics.

Every store call of a request goes through ``StoreGuard.call``: decisions, identity sources'
admissions, the gateway's own routes, the administrators' reads and actions, background
releases. A store that stops answering (rather than refusing connections) then costs one
timeout, after which the breaker answers at once until a probe finds the store again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .breaker import CircuitBreaker
from .engine import StoreUnavailable

logger = logging.getLogger("halo_gate")

T = TypeVar("T")

# The engine turns Redis errors into StoreUnavailable; a socket error or timeout that slips past
# it is the same event for a request.
STORE_ERRORS = (StoreUnavailable, OSError, asyncio.TimeoutError)
# A store that stops answering counts as down after this many seconds.
STORE_TIMEOUT = 5.0


class StoreGuard:
    """Calls the store within ``timeout`` seconds, through ``breaker``."""

    def __init__(self, *, timeout: float = STORE_TIMEOUT, breaker: CircuitBreaker | None = None):
        self.timeout = timeout
        self.breaker = breaker or CircuitBreaker(probe_timeout=timeout)
        # Counted for metrics: store calls that failed or timed out.
        self.errors = 0

    async def call(self, operation: Callable[[], Awaitable[T]], *, gated: bool = True) -> T:
        """``operation()``'s result; raises ``StoreUnavailable`` when the store failed, timed out
        or the breaker is open. ``gated=False`` (background work that retries by itself) skips
        the breaker's refusal but still reports to it."""
        if gated and not self.breaker.allow():
            raise StoreUnavailable("circuit open")
        try:
            async with asyncio.timeout(self.timeout):
                result = await operation()
        except STORE_ERRORS as error:
            self.errors += 1
            self.breaker.failed()
            if isinstance(error, StoreUnavailable):
                raise
            raise StoreUnavailable(f"{type(error).__name__}: {error}") from error
        self.breaker.succeeded()
        return result
