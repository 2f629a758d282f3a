"""Connecting to the store named by ``HALO_GATE_REDIS_URL``, or the embedded one."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.sentinel import Sentinel

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
        return Redis.from_url(url)
    if scheme in ("redis+cluster", "rediss+cluster"):
        return RedisCluster.from_url(url.replace("+cluster", "", 1))
    if scheme == "redis+sentinel":
        return _sentinel(url)
    raise ValueError(f"Redis URL scheme {scheme!r} is not one of {SCHEMES}.")


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
    options: dict[str, Any] = {"db": int(path[1]) if len(path) > 1 else 0}
    if password:
        options["password"] = password
    sentinel = Sentinel(hosts)  # type: ignore[no-untyped-call]
    master: Redis = sentinel.master_for(path[0], **options)
    return master
