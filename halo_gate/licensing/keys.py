"""The one place that names Redis keys.

Every key of an installation starts with the same ``{hash tag}``, built from the instance name,
so that Redis Cluster puts them all in one slot. A script touches only the keys it declares,
which :meth:`Keyspace.named` builds from the names in its header (see ``library.py``).
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

    @property
    def audit_people(self) -> str:
        """The audit stream's index by person (see trail.lua): "person\\0<padded entry id>"."""
        return self.key("audit_people")

    @property
    def holder_names(self) -> str:
        """Every person holding a licence (in pool or active), scored 0: found by the beginning
        of their name (see note_holder() in context.lua)."""
        return self.key("holder_names")

    def record(self, day: int) -> str:
        """The list of sessions recorded on ``day`` (days since the epoch, UTC): closed that
        day, or found that day to have idled out earlier."""
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

    # Written and read by reads.py for the console (none of the decision scripts reads them).

    def device(self, session_id: str) -> str:
        """The string noting who holds a session, from which address and browser (JSON)."""
        return self.key("device:" + session_id)

    def devices(self, person: str) -> str:
        """The sorted set of the sessions noted for one person: id -> when noted (ms)."""
        return self.key("devices:" + person)

    @property
    def capacity_log(self) -> str:
        """The sorted set of capacity changes: "at concurrent named" -> at (ms)."""
        return self.key("capacity_log")

    def rollup(self, day: int) -> str:
        """The hash of ``day``'s usage per hour, summed from its per-minute history once the
        hour is over."""
        return self.key(f"rollup:{day}")

    def named(self, name: str, person: str | None, day: int) -> str:
        """The key a script's header calls ``name``, for ``person`` on ``day``: ``sessions``
        is the person's, ``history`` and ``record`` are the day's, ``history_before`` the
        day before's; any other name is the installation's key of that name."""
        if name == "sessions":
            return self.sessions(person or "")
        if name == "history":
            return self.history(day)
        if name == "history_before":
            return self.history(day - 1)
        if name == "record":
            return self.record(day)
        return self.key(name)
