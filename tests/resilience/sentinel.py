"""A master, a replica and three Sentinels, started by the tests on ports of their own."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis as AsyncRedis

from .servers import Server, Servers

SERVICE = "halo"
READY_WITHIN = 15.0


@dataclass
class Deployment:
    master: Server
    replica: Server
    sentinels: list[Server]

    def url(self, first: int | None = None) -> str:
        """The ``redis+sentinel://`` URL, optionally listing another port first."""
        ports = ([first] if first is not None else []) + [s.port for s in self.sentinels]
        return f"redis+sentinel://{','.join(f'127.0.0.1:{port}' for port in ports)}/{SERVICE}"

    def master_port(self) -> int:
        with self.sentinels[0].client() as client:
            host, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)


def _wait(what: str, ready: object) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if callable(ready) and ready():
            return
        time.sleep(0.1)
    pytest.fail(f"The test's Sentinel deployment was not ready within {READY_WITHIN} s: {what}.")


def _linked(replica: Server) -> bool:
    with replica.client() as client:
        return bool(client.info("replication").get("master_link_status") == "up")


def _sees_everyone(sentinel: Server) -> bool:
    with sentinel.client() as client:
        state = client.sentinel_master(SERVICE)
    return int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2


def start(started: Servers) -> Deployment:
    master = started.redis()
    replica = started.redis(f"replicaof 127.0.0.1 {master.port}")
    _wait("the replica did not link to the master", lambda: _linked(replica))
    sentinels = [
        started.sentinel(
            f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 2",
            f"sentinel down-after-milliseconds {SERVICE} 2000",
            f"sentinel failover-timeout {SERVICE} 20000",
            f"sentinel parallel-syncs {SERVICE} 1",
        )
        for _ in range(3)
    ]
    for sentinel in sentinels:
        _wait(
            f"Sentinel {sentinel.port} did not see the replica and the others",
            lambda sentinel=sentinel: _sees_everyone(sentinel),
        )
    return Deployment(master, replica, sentinels)


def client(port: int) -> AsyncRedis:
    return AsyncRedis(host="127.0.0.1", port=port, socket_timeout=2)
