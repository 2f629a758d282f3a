"""What this worker remembers of the sessions it saw: their last heartbeat or refusal."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..licensing import Decision


@dataclass(frozen=True, slots=True)
class Seen:
    """What this worker last learnt about a session: its last heartbeat, whether it was
    refused, and when a passive request last checked that it was not ended."""

    at: float
    refusal: Decision | None = None
    checked: float = 0.0


class HeartbeatMemory:
    """Per-worker: the last heartbeat (or refusal) of each session seen here.

    A client that never stores the refreshed cookie keeps sending an old heartbeat time; this
    memory keeps such a client to one store round trip per interval per worker, and a refused
    or ended session from being let through on its old cookie. It is bounded (least recently
    used entries go first); forgetting an entry costs at most one extra heartbeat.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, Seen] = OrderedDict()
        self._capacity = capacity

    def get(self, session_id: str) -> Seen | None:
        return self._seen.get(session_id)

    def ended(self, session_id: str) -> bool:
        """Whether this worker saw the session end (signed out, ended by an administrator)."""
        seen = self._seen.get(session_id)
        return seen is not None and seen.refusal is not None and seen.refusal.outcome == "ended"

    def put(self, session_id: str, seen: Seen | None) -> None:
        if seen is None:
            self._seen.pop(session_id, None)
            return
        self._seen[session_id] = seen
        self._seen.move_to_end(session_id)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
