"""A per-worker circuit breaker in front of the licence store.

Without it a hung store costs every request the full store timeout: under ``allow`` each
request is that late, under ``deny`` each 503 takes that long. After a failure the breaker is
open: requests get the store-down answer at once, and after ``cooldown`` seconds one request at
a time (the probe) tries the store again; its success closes the breaker, its failure opens it
for another cooldown. Requests between heartbeats never reach it (they make no store call).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger("halo_gate")

COOLDOWN = 3.0


class CircuitBreaker:
    def __init__(
        self,
        *,
        cooldown: float = COOLDOWN,
        probe_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown = cooldown
        # A probe that never reports (its request was cancelled) frees the way for another
        # after this long, so the breaker cannot stay open for ever.
        self.probe_timeout = probe_timeout
        self.clock = clock
        self._open_until = 0.0  # 0: closed
        self._probe_until = 0.0
        # Counted for metrics: times the breaker opened, requests answered without the store.
        self.trips = 0
        self.short_circuited = 0

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0

    def allow(self) -> bool:
        """True when this request may call the store (it may be the probe); else it is
        counted and should get the store-down answer at once."""
        if self._open_until == 0.0:
            return True
        now = self.clock()
        if now >= self._open_until and now >= self._probe_until:
            self._probe_until = now + self.probe_timeout
            return True
        self.short_circuited += 1
        return False

    def succeeded(self) -> None:
        if self._open_until != 0.0:
            logger.warning("licence store answering again; circuit closed")
            self._open_until = self._probe_until = 0.0

    def failed(self) -> None:
        if self._open_until == 0.0:
            self.trips += 1
            logger.warning(
                "licence store failed; answering without it for %.0f s at a time", self.cooldown
            )
        self._open_until = self.clock() + self.cooldown
        self._probe_until = 0.0
