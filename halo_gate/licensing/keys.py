"""The one place that names Redis keys.

Every key of an installation starts with the same ``{hash tag}``, built from the instance name,
so that Redis Cluster puts them all in one slot and every script may touch any of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keyspace:
    """The keys of one installation (``HALO_GATE_INSTANCE``)."""

    instance: str

    @property
    def prefix(self) -> str:
        return f"{{halo:{self.instance}}}:"

    def key(self, name: str) -> str:
        return self.prefix + name

    def sessions(self, person: str) -> str:
        """The hash of one person's sessions."""
        return self.key("sessions:" + person)

    @property
    def config(self) -> str:
        return self.key("config")

    @property
    def audit(self) -> str:
        return self.key("audit")

    def record(self, day: int) -> str:
        """The list of sessions closed on ``day`` (days since the epoch, UTC)."""
        return self.key(f"record:{day}")

    def history(self, day: int) -> str:
        """The hash of ``day``'s per-minute usage."""
        return self.key(f"history:{day}")

    @property
    def recommendation(self) -> str:
        """The recommended split last computed, shared by every worker (JSON)."""
        return self.key("recommendation")

    @property
    def recommendation_lock(self) -> str:
        """Held by the worker computing the recommendation (a redis-py lock, with expiry)."""
        return self.key("recommendation:lock")

    @property
    def ended_channel(self) -> str:
        """The pub/sub channel on which ended sessions are announced to every worker."""
        return self.key("ended")
