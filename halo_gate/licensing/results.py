"""The engine's typed results, and their reading from the scripts' replies.

Each script answers with a flat list (see the header of its ``.lua`` file); these are the only
places that know those lists' shapes, so the rest of the package sees typed values only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .pools import GroupUsage

LicenceType = Literal["named", "concurrent"]
Outcome = Literal[
    "admitted",
    "renewed",
    "readmitted",
    "ended",
    "pool_full",
    "group_cap",
    "queue_full",
    "no_licence",
]
Liveness = Literal["live", "ended", "lost"]
AssignOutcome = Literal["assigned", "already", "no_seat"]


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# The words an admitting call answers with, read without decoding each time: a decision is
# read on every request that reaches the store.
_WORDS: dict[Any, str] = {
    key: word
    for word in (*get_args(Outcome), "named", "concurrent")
    for key in (word, word.encode())
}


def _word(value: Any) -> str:
    return _WORDS.get(value) or text(value)


# Not frozen: a decision is built on every request that reaches the store, and a frozen
# dataclass's __init__ (object.__setattr__ for each of its 12 fields) took 3 of the 5 us that
# reading a reply cost; nothing changes a decision once made.
@dataclass(slots=True)
class Decision:
    """The answer to an admission or a heartbeat."""

    outcome: Outcome
    licence: LicenceType | None
    expires_at: float  # epoch seconds when the session idles out; 0 when refused
    capacity: int  # concurrent slots
    in_use: int  # concurrent slots held after the decision
    retry_after: int  # seconds until a slot frees at the latest; 0 unless pool_full or group_cap
    # Why a session was ended, when known: "admin", "unassigned", "logout"; or, for a refusal
    # of a session whose slot was harvested, "harvested".
    reason: str = ""
    # Refusals under pool rules: the group whose cap is full (group_cap), and the slots that
    # were full (the cap, the shared part or the pool) and how many of them are held.
    group: str | None = None
    limit: int = 0
    held: int = 0
    # A refused person waiting in the line: their place (1 is the head; 0: not waiting) and the
    # estimated wait in seconds (None when no slot freed lately to draw it from).
    position: int = 0
    estimated_wait: int | None = None
    # The range the wait is likely to fall in (seconds), and whether so few slots freed lately
    # that the range, not the single figure, is what to tell (see estimate.py).
    wait_range: tuple[int, int] | None = None
    wait_thin: bool = False

    # Sessions of the person this admission ended: the oldest past the most sessions a person
    # may hold (HALO_GATE_MAX_SESSIONS_PER_PERSON).
    ended_sessions: tuple[str, ...] = ()
    # Sessions of another person ended for this admission: the slot they held idle went to it.
    harvested_sessions: tuple[str, ...] = ()

    @property
    def admitted(self) -> bool:
        return self.outcome in ("admitted", "renewed", "readmitted")

    @property
    def ahead(self) -> int:
        """The people ahead in the line."""
        return max(self.position - 1, 0)

    @classmethod
    def from_reply(cls, reply: list[Any]) -> Decision:
        """An admitting call's reply (see admit() in ``scripts/admission.lua``): six fields,
        then the ids of sessions it ended and those it harvested or, for a refusal, five or six
        more."""
        outcome, licence, expires_ms, capacity, in_use, retry_ms, *refusal = reply
        if len(refusal) < 5:
            return cls(
                _word(outcome),  # type: ignore[arg-type]
                _word(licence) or None,  # type: ignore[arg-type]
                int(expires_ms) / 1000,
                int(capacity),
                int(in_use),
                math.ceil(int(retry_ms) / 1000),
                ended_sessions=tuple(text(id_) for id_ in refusal[0]) if refusal else (),
                harvested_sessions=(
                    tuple(text(id_) for id_ in refusal[1]) if len(refusal) > 1 else ()
                ),
            )
        group, limit, held, position, estimate_ms, *harvested = refusal
        return cls(
            outcome=_word(outcome),  # type: ignore[arg-type]
            licence=_word(licence) or None,  # type: ignore[arg-type]
            expires_at=int(expires_ms) / 1000,
            capacity=int(capacity),
            in_use=int(in_use),
            retry_after=math.ceil(int(retry_ms) / 1000),
            group=text(group) or None,
            limit=int(limit),
            held=int(held),
            position=int(position),
            estimated_wait=None if int(estimate_ms) < 0 else math.ceil(int(estimate_ms) / 1000),
            reason="harvested" if harvested else "",
        )


# usage.lua's reply: this many fixed fields, then seven for each group.
_USAGE_FIELDS = 11


@dataclass(frozen=True, slots=True)
class Usage:
    named_seats: int
    named_assigned: int
    named_active: int
    named_quarantined: int
    concurrent_seats: int
    in_use: int
    peak_24h: int
    denials_24h: int
    harvested_24h: int = 0  # people whose idle slot went to another (see harvest.lua)
    queue_length: int = 0
    queue_longest_wait: int = 0  # seconds the line's head has waited
    # Groups with pool rules, or whose members still hold slots charged under removed ones.
    groups: dict[str, GroupUsage] = field(default_factory=dict)

    @classmethod
    def from_reply(cls, reply: list[Any]) -> Usage:
        """usage.lua's reply."""
        groups = {}
        for at in range(_USAGE_FIELDS, len(reply), 7):
            name, reserved, cap, *counts = reply[at : at + 7]
            cap = int(cap)
            groups[text(name)] = GroupUsage(
                int(reserved), None if cap < 0 else cap, *(int(count) for count in counts)
            )
        (
            named,
            assigned,
            active,
            quarantined,
            slots,
            in_use,
            peak,
            denials,
            harvested,
            waiting,
            longest,
        ) = map(int, reply[:_USAGE_FIELDS])
        return cls(
            named,
            assigned,
            active,
            quarantined,
            slots,
            in_use,
            peak,
            denials,
            harvested,
            waiting,
            math.ceil(longest / 1000),
            groups,
        )

    def as_json(self) -> dict[str, Any]:
        """The shape of ``GET /_halo/api/usage``."""
        return {
            "named": {
                "seats": self.named_seats,
                "assigned": self.named_assigned,
                "active": self.named_active,
                "quarantined": self.named_quarantined,
            },
            "concurrent": {
                "seats": self.concurrent_seats,
                "in_use": self.in_use,
                "peak_24h": self.peak_24h,
                "denials_24h": self.denials_24h,
                "harvested_24h": self.harvested_24h,
            },
            "groups": {name: group.as_json() for name, group in self.groups.items()},
            "queue": {"length": self.queue_length, "longest_wait": self.queue_longest_wait},
        }


@dataclass(frozen=True, slots=True)
class LiveSession:
    session_id: str
    person: str
    licence: LicenceType
    since: float  # epoch seconds
    last_seen: float
    expires_at: float
