"""Hearing at once, in every worker, that a session has ended.

The engine announces each session it ends (an administrator's end, an unassigned seat's
sessions, a logout) on the installation's channel: sharded pub/sub on Redis Cluster, plain
pub/sub elsewhere. Each worker listens from startup and hands the ids to a callback that marks
them ended in its own memory, so the person's next request on any worker is refused without a
store call. A lost subscription is taken up again with backoff; meanwhile the heartbeat check
still finds every ended session within one interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from redis.asyncio import RedisCluster
from redis.exceptions import RedisError

from ..licensing import LicenceEngine

logger = logging.getLogger("halo_gate")

OnEnded = Callable[[str, list[str]], None]  # (reason, session ids)
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
# Each read waits this long for an announcement, less than the store's socket timeout, so a
# quiet channel is never taken for a stalled store (redis-py 8.0 applies that timeout to a read
# that waits without one).
LISTEN_POLL = 5.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class EndedListener:
    """One worker's subscription to the ended-session announcements."""

    def __init__(self, engine: LicenceEngine, on_ended: OnEnded) -> None:
        self.engine = engine
        self.on_ended = on_ended
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.pubsub: Any = None  # the current subscription, for tests to cut
        self._cluster = isinstance(engine.store, RedisCluster)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="halo-gate ended sessions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = FIRST_BACKOFF
        channel = self.engine.keys.ended_channel
        while True:
            pubsub = self.pubsub = self.engine.store.pubsub()
            try:
                if self._cluster:
                    await pubsub.ssubscribe(channel)
                else:
                    await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(timeout=LISTEN_POLL)
                    if message is None:
                        continue
                    if message["type"] in ("subscribe", "ssubscribe"):
                        self.subscribed.set()
                        backoff = FIRST_BACKOFF
                    elif message["type"] in ("message", "smessage"):
                        reason, *ids = _text(message["data"]).split()
                        self.on_ended(reason, ids)
            except (RedisError, OSError) as error:
                self.subscribed.clear()
                logger.warning(
                    "ended-session announcements lost (%s); resubscribing in %.1f s",
                    type(error).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                with suppress(RedisError, OSError):
                    await pubsub.aclose()
