"""Connecting to the store named by ``HALO_GATE_REDIS_URL``, or the embedded one."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    BlockingConnectionPool,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.sentinel import Sentinel
from redis.connection import HiredisRespSerializer
from redis.typing import EncodableT
from redis.utils import HIREDIS_AVAILABLE

from . import options
from .failover import WatchedSentinelPool

Store = Redis | RedisCluster

SCHEMES = "redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, redis+sentinel://"


def connect(url: str | None) -> Store:
    """A client for ``url``; ``None`` gives the embedded in-process store (fakeredis with Lua).

    - ``redis://``, ``rediss://``, ``unix://``: one server (redis-py's own URL syntax).
    - ``redis+cluster://host:port``: Redis Cluster, discovered from that node.
    - ``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]``: the master that
      Sentinel names for ``service``.
    """
    if url is None:
        return embedded()
    scheme = url.split("://", 1)[0]
    if scheme in ("redis", "rediss", "unix"):
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=options.POOL_SIZE,
            timeout=options.POOL_WAIT,
            **options.server(tcp=scheme != "unix"),
        )
        return _packing_with_hiredis(Redis.from_pool(pool))
    if scheme in ("redis+cluster", "rediss+cluster"):
        return RedisCluster.from_url(url.replace("+cluster", "", 1), **options.cluster())
    if scheme == "redis+sentinel":
        return _sentinel(url)
    raise ValueError(f"Redis URL scheme {scheme!r} is not one of {SCHEMES}.")


class _HiredisPacking(AbstractConnection):
    # redis-py's asyncio connections pack every command in pure Python (its sync ones use
    # hiredis). Packing with hiredis saves several microseconds of client CPU per call, which
    # is most of what separates a licence decision's client cost from a PING's.
    # Any: redis-py annotates pack(*args: List), though it takes the command's arguments, and
    # from 8.0 on leaves the constructor unannotated.
    _serializer: Any = cast(Any, HiredisRespSerializer)()

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        packed: list[bytes] = self._serializer.pack(*args)
        return packed


class _TCP(_HiredisPacking, Connection):
    pass


class _TLS(_HiredisPacking, SSLConnection):
    pass


class _Unix(_HiredisPacking, UnixDomainSocketConnection):
    pass


_WITH_HIREDIS: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: _TCP,
    SSLConnection: _TLS,
    UnixDomainSocketConnection: _Unix,
}


def _packing_with_hiredis(client: Redis) -> Redis:
    pool = client.connection_pool
    if HIREDIS_AVAILABLE:
        pool.connection_class = _WITH_HIREDIS.get(pool.connection_class, pool.connection_class)
    return client


def embedded() -> Redis:
    import fakeredis

    client: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    return client


def _sentinel(url: str) -> Redis:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    password = unquote(netloc[0].split(":", 1)[-1]) if len(netloc) == 2 else None
    hosts = []
    for node in netloc[-1].split(","):
        host, _, port = node.rpartition(":")
        hosts.append((host.strip("[]") or "localhost", int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("A redis+sentinel:// URL needs the service name as its path.")
    settings: dict[str, Any] = {"db": int(path[1]) if len(path) > 1 else 0}
    if password:
        settings["password"] = password
    sentinel = Sentinel(hosts, sentinel_kwargs=options.sentinel())
    master: Redis = sentinel.master_for(
        path[0], connection_pool_class=WatchedSentinelPool, **settings, **options.server()
    )
    return master
