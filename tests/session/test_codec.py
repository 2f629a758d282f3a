"""The session cookie: signed, rotated, idle-limited, small; the per-worker heartbeat memory."""

from __future__ import annotations

import uuid

from halo_gate.licensing import Decision
from halo_gate.session import COOKIE_BUDGET, HeartbeatMemory, Seen, Session, SessionCodec

NOW = 1_800_000_000.0


def codec(keys: list[str], now: float = NOW, max_age: int = 1800) -> SessionCodec:
    return SessionCodec(keys, max_age=max_age, clock=lambda: now)


SESSION = Session("sid-1", "ann@example.com", "named", int(NOW), ("agents", "ops"))


def test_a_cookie_round_trips_and_holds_no_more_than_it_should() -> None:
    value = codec(["key-a"]).encode(SESSION)
    assert codec(["key-a"]).decode(value) == SESSION
    assert len(value) < COOKIE_BUDGET


def test_the_first_key_signs_and_every_key_verifies() -> None:
    value = codec(["new", "old"]).encode(SESSION)
    assert codec(["new"]).decode(value) == SESSION
    assert codec(["old"]).decode(value) is None
    older = codec(["old"]).encode(SESSION)
    assert codec(["new", "old"]).decode(older) == SESSION


def test_forged_foreign_and_idle_cookies_are_refused() -> None:
    value = codec(["key-a"]).encode(SESSION)
    assert codec(["key-b"]).decode(value) is None
    assert codec(["key-a"]).decode(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert codec(["key-a"]).decode("not-a-cookie") is None
    assert codec(["key-a"]).decode(None) is None
    assert codec(["key-a"], now=NOW + 1800).decode(value) == SESSION
    assert codec(["key-a"], now=NOW + 1801).decode(value) is None


def test_many_groups_are_trimmed_to_keep_the_cookie_small() -> None:
    crowded = Session(
        "sid",
        "ann@example.com",
        "concurrent",
        int(NOW),
        tuple(uuid.uuid4().hex for _ in range(200)),
    )
    value = codec(["key-a"]).encode(crowded)
    assert len(value) <= COOKIE_BUDGET
    decoded = codec(["key-a"]).decode(value)
    assert decoded is not None
    assert decoded.person == "ann@example.com"
    assert set(decoded.groups) < set(crowded.groups)


def test_the_heartbeat_memory_is_bounded_and_keeps_refusals() -> None:
    memory = HeartbeatMemory(capacity=3)
    for index in range(5):
        memory.put(f"s{index}", Seen(float(index)))
    assert len(memory) == 3
    assert memory.get("s0") is None
    assert memory.get("s4") == Seen(4.0)
    ended = Decision("ended", None, 0, 0, 0, 0)
    memory.put("s4", Seen(9.0, ended))
    assert memory.get("s4") == Seen(9.0, ended)
    memory.put("s4", None)
    assert memory.get("s4") is None


def test_a_remembered_cookie_still_expires_and_is_not_valid_before_it_was_signed() -> None:
    now = [NOW]
    codec_ = SessionCodec(["key-a"], max_age=1800, clock=lambda: now[0])
    value = codec_.encode(SESSION)
    assert codec_.decode(value) == SESSION
    now[0] = NOW + 1800
    assert codec_.decode(value) == SESSION
    now[0] = NOW + 1801
    assert codec_.decode(value) is None
    now[0] = NOW - 5
    assert codec_.decode(value) is None
    # A value seen first by decode (made elsewhere) is remembered the same way.
    other = SessionCodec(["key-a"], max_age=1800, clock=lambda: now[0])
    now[0] = NOW + 10
    assert other.decode(value) == SESSION
    now[0] = NOW + 1801
    assert other.decode(value) is None
