"""The live sessions, read a chunk at a time.

Plain reads rather than one script: a listing decides nothing, and one script reading every
person's sessions would hold up every decision of the installation meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .keys import Keyspace
from .results import LicenceType, LiveSession, text

# People read at a time.
CHUNK = 1000


async def live_sessions(
    store: Any, keys: Keyspace, offset_ms: int, idle_ms: int
) -> tuple[float, list[LiveSession]]:
    """The store's time (epoch seconds, plus ``offset_ms``) and every live session, named
    people first, each licence's people in order of their latest expiry."""
    seconds, micros = await store.time()
    now = seconds * 1000 + micros // 1000 + offset_ms
    found = []
    licences: tuple[tuple[LicenceType, str], ...] = (("named", "active"), ("concurrent", "pool"))
    for licence, zset in licences:
        async for person, fields in _people_sessions(store, keys, keys.key(zset), now):
            for session, value in fields.items():
                if session == b"!":  # the slot's charge record, not a session
                    continue
                expiry, created = (int(part) for part in text(value).split())
                if expiry > now:
                    found.append(
                        LiveSession(
                            session_id=text(session),
                            person=person,
                            licence=licence,
                            since=created / 1000,
                            # Each renewal sets the expiry one idle timeout ahead (capped by the
                            # maximum age), so this is the last heartbeat, or earlier for a
                            # capped session.
                            last_seen=max(created, expiry - idle_ms) / 1000,
                            expires_at=expiry / 1000,
                        )
                    )
    return now / 1000, found


async def _people_sessions(
    store: Any, keys: Keyspace, zset: str, now: int
) -> AsyncIterator[tuple[str, dict[bytes, bytes]]]:
    """The people of ``zset`` whose latest session is live, and their sessions hashes."""
    rank = int(await store.zcount(zset, "-inf", now))  # the expired ones rank first
    while True:
        people = [text(person) for person in await store.zrange(zset, rank, rank + CHUNK - 1)]
        async with store.pipeline(transaction=False) as pipe:
            for person in people:
                pipe.hgetall(keys.sessions(person))
            hashes = await pipe.execute()
        for person, fields in zip(people, hashes, strict=True):
            yield person, fields
        if len(people) < CHUNK:
            return
        rank += CHUNK
