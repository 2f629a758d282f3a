"""Hearing at once, in every worker, that a session has ended.

The engine announces each session it ends (an administrator's end, an unassigned seat's
sessions, a logout) on the installation's channel: sharded pub/sub on Redis Cluster, plain
pub/sub elsewhere. Each worker listens from startup and hands the ids to a callback that marks
them ended in its own memory, so the person's next request on any worker is refused without a
store call. A lost subscription is taken up again with backoff; meanwhile the heartbeat check
still finds every ended session within one interval.

A subscription can also die without a word, when a NAT or load balancer forgets the connection
and its packets vanish: after ``check_every`` seconds without a message the listener sends a
``PING`` on it, and replaces it when no answer comes within ``answer_within``. So a silently
dead subscription is replaced at most ``check_every + answer_within`` seconds (20 by default)
after its last message, plus the reconnection. A message that is not an announcement (an
empty ``PUBLISH``) is counted and ignored: nothing on the channel stops the listener.
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
CHECK_EVERY = 15.0  # seconds without a message before the subscription is asked if it lives
ANSWER_WITHIN = 5.0  # seconds its PING may take before it is replaced
CLOSE_WITHIN = 1.0  # a dead connection is dropped, not waited for
# Each read waits at most this long, less than the store's socket timeout, so a quiet channel is
# never taken for a stalled store (redis-py 8.0 applies that timeout to a read that waits longer).
LISTEN_POLL = 5.0


class SubscriptionSilent(Exception):
    """The subscription did not answer a PING in time."""


def announcement(data: Any) -> tuple[str, list[str]] | None:
    """The reason and session ids of a message on the channel, or None when it is not one
    (``"<reason> <id> [<id>...]"``, as ``LicenceEngine.announce_ended`` sends)."""
    if isinstance(data, bytes):
        try:
            data = data.decode()
        except UnicodeDecodeError:
            return None
    if not isinstance(data, str):
        return None
    reason, *ids = data.split() or [""]
    return (reason, ids) if reason and ids else None


class EndedListener:
    """One worker's subscription to the ended-session announcements."""

    def __init__(
        self,
        engine: LicenceEngine,
        on_ended: OnEnded,
        *,
        check_every: float = CHECK_EVERY,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        self.engine = engine
        self.on_ended = on_ended
        self.check_every = check_every
        self.answer_within = answer_within
        self.subscribed = asyncio.Event()
        self.malformed = 0  # messages on the channel that were not announcements
        self.replaced = 0  # subscriptions given up (lost, silent or failing) and taken up again
        self._task: asyncio.Task[None] | None = None
        self._backoff = FIRST_BACKOFF
        self.pubsub: Any = None  # the current subscription, for tests to cut
        self._cluster = isinstance(engine.store, RedisCluster)

    def counters(self) -> dict[str, tuple[str, Callable[[], int]]]:
        """This worker's counters of the subscription, for ``/_halo/metrics``."""
        return {
            "ended_announcements_malformed": (
                "Messages on the ended-session channel that were not announcements (ignored).",
                lambda: self.malformed,
            ),
            "ended_subscriptions_replaced": (
                "Times this worker replaced its ended-session subscription (lost, or silent "
                "past its PING deadline).",
                lambda: self.replaced,
            ),
        }

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
        while True:
            pubsub = self.pubsub = self.engine.store.pubsub()
            try:
                await self._listen(pubsub)
            except (RedisError, OSError, SubscriptionSilent) as error:
                self._give_up(type(error).__name__)
            except Exception:
                # Not the store's doing, but the listener must outlive it too.
                logger.exception("ended-session listener failed")
                self._give_up("an unexpected error")
            finally:
                await self._close(pubsub)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)

    def _give_up(self, why: str) -> None:
        self.subscribed.clear()
        self.replaced += 1
        logger.warning(
            "ended-session announcements lost (%s); resubscribing in %.1f s", why, self._backoff
        )

    async def _listen(self, pubsub: Any) -> None:
        """Subscribe and hand on announcements until the subscription fails or falls silent."""
        channel = self.engine.keys.ended_channel
        if self._cluster:
            # The channel's node comes from the client's map of slots, which redis-py before
            # 8.2 fills only at the client's first command: fill it first.
            await self.engine.store.initialize()
            await pubsub.ssubscribe(channel)
            receive = pubsub.get_sharded_message
        else:
            await pubsub.subscribe(channel)
            receive = pubsub.get_message
        loop = asyncio.get_running_loop()
        heard_at = loop.time()
        deadline: float | None = None  # when an unanswered PING gives the subscription up
        while True:
            until = heard_at + self.check_every if deadline is None else deadline
            wait = min(until - loop.time(), LISTEN_POLL)
            message = await receive(timeout=max(wait, 0.0))
            if message is None:
                now = loop.time()
                if deadline is None and now >= heard_at + self.check_every:
                    await self._ping(pubsub)
                    deadline = now + self.answer_within
                elif deadline is not None and now >= deadline:
                    raise SubscriptionSilent
                continue
            heard_at, deadline = loop.time(), None  # anything heard: the connection lives
            if message["type"] in ("subscribe", "ssubscribe"):
                self.subscribed.set()
                self._backoff = FIRST_BACKOFF
            elif message["type"] in ("message", "smessage"):
                heard = announcement(message["data"])
                if heard is None:
                    self.malformed += 1
                    logger.warning("a message on %s is not an announcement: ignored", channel)
                else:
                    self.on_ended(*heard)

    async def _ping(self, pubsub: Any) -> None:
        # On Cluster the subscription lives on the channel's node, in a pubsub of its own.
        for target in pubsub.node_pubsub_mapping.values() if self._cluster else [pubsub]:
            await target.ping()

    async def _close(self, pubsub: Any) -> None:
        with suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_WITHIN):
                await pubsub.aclose()
