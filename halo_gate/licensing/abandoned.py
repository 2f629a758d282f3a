"""Sessions whose admission timed out at sign-in, released in the background.

The person saw "licence service unavailable", yet the admission may still run when the store
wakes up (it was queued behind a stall) and hold a slot for nobody until the idle timeout. So
the session id is released, best effort, a few times until the store answers. The release
marks the id abandoned, and an admission of an abandoned id is refused (see admit.lua), so the
two are harmless in either order. Only the OIDC sign-in does this: its session ids are random
and never used again, whereas other identity sources admit a person under the same id again.
"""

from __future__ import annotations

import asyncio
import logging

from .engine import LicenceEngine, StoreUnavailable
from .guard import StoreGuard

logger = logging.getLogger("halo_gate")

ATTEMPTS = 5
PAUSE = 1.0


class AbandonedSessions:
    def __init__(self, engine: LicenceEngine, guard: StoreGuard) -> None:
        self.engine = engine
        self.guard = guard
        self._tasks: set[asyncio.Task[None]] = set()
        # Counted for metrics.
        self.released = 0
        self.given_up = 0

    def release(self, person: str, session_id: str) -> None:
        """Release ``session_id`` in the background; returns at once."""
        task = asyncio.create_task(self._release(person, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, person: str, session_id: str) -> None:
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(PAUSE)
            try:
                # Not refused by an open breaker: these attempts are what finds the store again.
                await self.guard.call(
                    lambda: self.engine.release(person, session_id, abandoned=True), gated=False
                )
            except StoreUnavailable:
                continue
            self.released += 1
            return
        self.given_up += 1
        logger.warning(
            "could not release abandoned session %s…; its slot frees by the idle timeout",
            session_id[:6],
        )

    async def wait(self) -> None:
        """Wait for the releases in flight (tests, shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.wait()
