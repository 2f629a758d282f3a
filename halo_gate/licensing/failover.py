"""Following a Sentinel failover at once, so no decision is made on a demoted master.

When Sentinel promotes a replica, the old master keeps accepting writes until Sentinel reaches
it and turns it into a replica (its INFO is polled every 10 s), and redis-py's pool keeps its
connections to it meanwhile: decisions made there are lost when it resyncs, and an engine on
the old master and one on the new would each admit a full pool. This pool therefore:

- listens on every Sentinel for ``+switch-master`` and, for its service, drops every
  connection (in use or idle) the moment one announces the new master;
- keeps to the announced address while other Sentinels, which learn of the switch up to a
  couple of seconds later, still name the old one;
- treats a ``READONLY`` reply (redis-py already does) and a ``NOREPLICAS`` reply (the old
  master fenced by ``min-replicas-to-write``) as a lost connection: it is dropped, the master is
  looked up again, and the store's retry sends the command once more.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.sentinel import SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import ConnectionError, RedisError, ResponseError

from . import options

logger = logging.getLogger("halo_gate")

CHANNEL = "+switch-master"
# How long a Sentinel subscription waits for a message before checking it is still wanted,
# and how long it waits before subscribing again after its Sentinel went away.
LISTEN_POLL = 1.0
RESUBSCRIBE_AFTER = 0.5

Address = tuple[str, int]


class WatchedConnection(SentinelManagedConnection):
    """A connection to the master that gives itself up when the master is fenced."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as error:
            if not str(error).startswith("NOREPLICAS"):
                raise
            # The master refuses writes for want of replicas in reach: it may be the old
            # master of a failover. The command did not run; look the master up again.
            await self.disconnect()
            raise ConnectionError(f"the master refuses writes: {error}") from error


class WatchedSentinelPool(SentinelConnectionPool):
    """The master's pool, following ``+switch-master`` announcements as they are made."""

    def __init__(self, service_name: str, sentinel_manager: Any, **kwargs: Any) -> None:
        kwargs.setdefault("connection_class", WatchedConnection)
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        self._announced: Address | None = None
        self._retired: set[Address] = set()
        self._watchers: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # Failovers this pool has followed, for metrics.
        self.switches = 0

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        # Started on first use: the pool is built before any event loop runs.
        if self._loop is not asyncio.get_running_loop():
            self._start_watching()
        connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        if self._retired and (connection.host, connection.port) in self._retired:
            # Connected to the old master while the switch was being announced: start over.
            await connection.disconnect()
            await connection.connect()
        return connection

    def _start_watching(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._watchers = []  # any earlier ones ended with their event loop
        for sentinel in self.sentinel_manager.sentinels:
            kwargs = sentinel.connection_pool.connection_kwargs
            address = (str(kwargs["host"]), int(kwargs["port"]))
            self._watchers.append(asyncio.create_task(self._watch(address)))

    async def _watch(self, address: Address) -> None:
        host, port = address
        while True:
            # One try each (this loop subscribes again by itself), short timeouts.
            client = Redis(host=host, port=port, **options.sentinel())
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=LISTEN_POLL
                        )
                        if message is not None:
                            await self.announced(message["data"])
            except (RedisError, OSError):
                await asyncio.sleep(RESUBSCRIBE_AFTER)
            finally:
                await client.aclose()

    async def announced(self, data: bytes | str) -> None:
        """Handles one ``+switch-master`` message: ``name old-ip old-port new-ip new-port``."""
        text = data.decode() if isinstance(data, bytes) else data
        parts = text.split()
        if len(parts) != 5 or parts[0] != self.service_name:
            return
        old, new = (parts[1], int(parts[2])), (parts[3], int(parts[4]))
        if new == self._announced:
            return  # the same switch, announced by another Sentinel
        self._announced = new
        self._retired.discard(new)
        self._retired.add(old)
        self.master_address = new
        self.switches += 1
        logger.warning(
            "Sentinel failover of %r: master %s:%s replaced by %s:%s; reconnecting",
            self.service_name,
            *old,
            *new,
        )
        await self.disconnect(inuse_connections=True)

    async def get_master_address(self) -> Any:
        address = await self.sentinel_manager.discover_master(self.service_name)
        found = (str(address[0]), int(address[1]))
        if self._announced is not None and found in self._retired:
            # This Sentinel has not heard of the switch yet.
            address = self._announced
        if self.master_address != address:
            self.master_address = address
            await self.disconnect(inuse_connections=False)
        return address

    async def aclose(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        self._watchers.clear()
        self._loop = None
        await super().aclose()
        # The store made the Sentinel client for this pool alone (see store.py).
        await self.sentinel_manager.aclose()
