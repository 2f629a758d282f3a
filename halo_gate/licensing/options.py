"""redis-py's connection options, every one named here rather than left to the library.

redis-py's defaults change between releases (in 8.x a connection speaks RESP3 and times a
read out after 5 s, and a client retries ten times with backoff, keeps TCP alive and caps a
Cluster node at 100 connections; 5.x did none of these), and each of them changes what a
decision does when the store is slow or gone. Every client the store makes takes its options
from here, so a new redis-py changes nothing the gateway does. A ``HALO_GATE_REDIS_URL`` query
parameter (``?socket_timeout=3``) still overrides one for a server or a Cluster.
"""

from __future__ import annotations

import socket
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError, TimeoutError

# RESP2: the engine converts the replies of its scripts and commands from RESP2's shapes
# (a script's Lua true is the integer 1 there, a boolean under RESP3).
PROTOCOL = 2

# A reply that takes longer fails with a timeout. Decisions are given up sooner by the store
# guard (5 s, which also feeds the circuit breaker); this bounds every other call (commands,
# startup checks, the console's reads) so none waits forever on a server that stopped answering.
SOCKET_TIMEOUT = 10.0
# Making a connection: a server on the same network answers in milliseconds; 2 s leaves room
# for one lost SYN (Linux resends it after 1 s) and gives up on a dead host well before the guard.
CONNECT_TIMEOUT = 2.0

# Connections per client (per node on a Cluster). A decision beyond that many in flight waits
# up to POOL_WAIT seconds for one to come free instead of failing at once ("Too many
# connections" would be "licence service unavailable" with a healthy store). redis-py's Cluster
# pool cannot wait, so its cap is set well above what one worker has in flight.
POOL_SIZE = 100
POOL_WAIT = 5.0
CLUSTER_POOL_SIZE = 1000

# A pooled connection that the server has closed meanwhile (Redis's `timeout` setting, a
# restart, a failover's CLIENT KILL) fails a command before the server runs it; such a command
# is sent once more on a fresh connection instead of answering "unavailable" with a healthy
# store. Only connection errors are retried, never timeouts (the server may still be running
# the command); a retried decision is harmless anyway, since every script is idempotent for its
# session id. A connection idle longer than HEALTH_CHECK_INTERVAL is PINGed before use.
RETRIES = 1
HEALTH_CHECK_INTERVAL = 30.0

# A Cluster client retries at its own level, following the slot map through a failover or a
# resharding: a connection error, a timeout or CLUSTERDOWN is retried 3 times, waiting 50 ms,
# 100 ms, then 200 ms, before the error is answered.
CLUSTER_RETRIES = 3
CLUSTER_BACKOFF_BASE = 0.05
CLUSTER_BACKOFF_CAP = 0.5

# Each Sentinel is asked once with a short timeout, so one that stalls costs SENTINEL_TIMEOUT
# before the next is asked (redis-py moves the one that answered to the front).
SENTINEL_TIMEOUT = 0.5

# TCP keepalive on every TCP connection: a peer that vanished without closing (a host or a
# network gone) is found after 30 s of silence and 3 unanswered probes 5 s apart, instead of the
# kernel's two hours, and firewalls and NATs do not drop an idle pooled connection or the
# ended-session subscription unseen. Only the options this platform has are set.
KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3


def keepalive() -> dict[str, Any]:
    wanted = {
        "TCP_KEEPIDLE": KEEPALIVE_IDLE,
        "TCP_KEEPINTVL": KEEPALIVE_INTERVAL,
        "TCP_KEEPCNT": KEEPALIVE_COUNT,
    }
    found = {
        getattr(socket, name): value for name, value in wanted.items() if hasattr(socket, name)
    }
    return {"socket_keepalive": True, "socket_keepalive_options": found}


def _timeouts() -> dict[str, Any]:
    return {
        "protocol": PROTOCOL,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }


def server(*, tcp: bool = True) -> dict[str, Any]:
    """Options for the connections to one server or Sentinel's master (one set per client:
    redis-py copies the Retry into each connection). A Unix socket takes no keepalive."""
    return {
        **_timeouts(),
        "retry": Retry(NoBackoff(), RETRIES, supported_errors=(ConnectionError,)),
        "retry_on_error": [ConnectionError],
        **(keepalive() if tcp else {}),
    }


def cluster() -> dict[str, Any]:
    """Options for a Cluster client and the connections to its nodes."""
    backoff = ExponentialBackoff(cap=CLUSTER_BACKOFF_CAP, base=CLUSTER_BACKOFF_BASE)
    return {
        **_timeouts(),
        "max_connections": CLUSTER_POOL_SIZE,
        "retry": Retry(backoff, CLUSTER_RETRIES, supported_errors=(ConnectionError, TimeoutError)),
        **keepalive(),
    }


def sentinel() -> dict[str, Any]:
    """Options for the connections to the Sentinels themselves: one try each, short timeouts
    (redis-py's default would ask a silent Sentinel again with growing waits before moving on)."""
    return {
        "protocol": PROTOCOL,
        "socket_timeout": SENTINEL_TIMEOUT,
        "socket_connect_timeout": SENTINEL_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
        **keepalive(),
    }
