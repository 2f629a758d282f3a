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

    def script_keys(self, person: str | None = None) -> list[str]:
        """KEYS for every script, in the order ``scripts/common.lua`` documents."""
        return [
            self.key("config"),
            self.key("pool"),
            self.key("active"),
            self.key("named"),
            self.key("quarantine"),
            self.key("ended"),
            self.key("audit"),
            self.sessions(person) if person is not None else self.key("sessions:"),
        ]

    @property
    def audit(self) -> str:
        return self.key("audit")
