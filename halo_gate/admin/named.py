"""The named seats as administrators see them: who holds one, who is signed in, which seats
are cooling down."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from ..licensing import LicenceEngine, StoreUnavailable
from ..licensing.records import now


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def named_seats(engine: LicenceEngine) -> dict[str, Any]:
    """``{"seats", "assigned": [{"person", "active"}], "quarantined": [{"person", "until"}],
    "now"}``; only live entries (active sessions and cooldowns not yet over) are counted."""
    at = await now(engine)
    keys, store = engine.keys, engine.store
    at_ms = int(at * 1000)
    try:
        async with store.pipeline(transaction=False) as pipe:
            pipe.hget(keys.config, "named")
            pipe.smembers(keys.key("named"))
            pipe.zrangebyscore(keys.key("active"), f"({at_ms}", "+inf")
            pipe.zrangebyscore(keys.key("quarantine"), f"({at_ms}", "+inf", withscores=True)
            seats, members, active, quarantine = await pipe.execute()
    except RedisError as error:
        raise StoreUnavailable(str(error)) from error
    live = {_text(person) for person in active}
    return {
        "seats": int(seats or 0),
        "assigned": [
            {"person": person, "active": person in live}
            for person in sorted(_text(member) for member in members)
        ],
        "quarantined": [
            {"person": _text(person), "until": score / 1000} for person, score in quarantine
        ],
        "now": at,
    }
