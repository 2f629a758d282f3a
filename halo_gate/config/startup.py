"""Checks made when the gateway starts, which warn but never stop it: ``HALO_GATE_*``
variables that name no setting (a typo would otherwise be ignored without a word), and a Redis
server that may evict the installation's keys."""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from redis.exceptions import RedisError

from ..licensing import Store

logger = logging.getLogger("halo_gate")

# Variables of the test suite and the benchmarks, which are not settings of the gateway.
NOT_SETTINGS = (
    "HALO_GATE_TEST_",
    "HALO_GATE_BENCH_",
    "HALO_GATE_STORM_",
    "HALO_GATE_PROPERTY_",
    "HALO_GATE_PLANNER_",
    "HALO_GATE_CONTENTION_",
    "HALO_GATE_FAILOVER_",
    "HALO_GATE_FUZZ_",
    "HALO_GATE_MEMORY_",
)
SAFE_POLICY = "noeviction"
# CONFIG GET answers in well under a millisecond; a store slower than this is left alone.
CHECK_TIMEOUT = 1.0


def unknown_variables(environ: Mapping[str, str], prefix: str, names: Iterable[str]) -> list[str]:
    """One sentence for each ``prefix`` variable in ``environ`` that names no setting."""
    known = [prefix + name.upper() for name in names]
    sentences = []
    for variable in sorted(environ):
        if not variable.startswith(prefix) or variable in known:
            continue
        if variable.startswith(NOT_SETTINGS):
            continue
        # Compared without the prefix, which every name shares and would make all look alike.
        suffixes = [name.removeprefix(prefix) for name in known]
        close = difflib.get_close_matches(variable.removeprefix(prefix), suffixes, n=1)
        hint = f"; did you mean {prefix}{close[0]}?" if close else "."
        sentences.append(f"{variable} is not a halo-gate setting and is ignored{hint}")
    return sentences


def warn_unknown_variables(environ: Mapping[str, str], prefix: str, names: Iterable[str]) -> None:
    for sentence in unknown_variables(environ, prefix, names):
        logger.warning(sentence)


def _policies(reply: Any) -> set[str]:
    # A server answers {"maxmemory-policy": value}; a cluster client may answer per node.
    found: set[str] = set()
    for key, value in dict(reply).items():
        if isinstance(value, dict):
            found |= _policies(value)
        elif (key.decode() if isinstance(key, bytes) else str(key)) == "maxmemory-policy":
            found.add(value.decode() if isinstance(value, bytes) else str(value))
    return found


async def eviction_warning(store: Store, timeout: float = CHECK_TIMEOUT) -> str | None:
    """A sentence when the server may evict keys (``maxmemory-policy`` is not ``noeviction``),
    else None; also None when the server does not say in time or refuses CONFIG (managed
    services often rename it): the check is best effort."""
    try:
        async with asyncio.timeout(timeout):
            reply = await store.config_get("maxmemory-policy")
    except (RedisError, OSError, TimeoutError):
        return None
    risky = sorted(policy for policy in _policies(reply) if policy != SAFE_POLICY)
    if not risky:
        return None
    return (
        f"Redis maxmemory-policy is {', '.join(risky)}, not {SAFE_POLICY}: under memory pressure "
        "Redis may evict the licence keys, losing sessions and seats and letting people past a "
        f"full pool; set maxmemory-policy {SAFE_POLICY} (see the README's Scaling section)."
    )


async def warn_if_evicting(store: Store) -> None:
    sentence = await eviction_warning(store)
    if sentence is not None:
        logger.warning(sentence)
