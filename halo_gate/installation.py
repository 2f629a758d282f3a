"""The licence engine of the installation that the settings name: one place builds it, for the
gateway, the console's commands and the CLI alike."""

from __future__ import annotations

from .config import Settings
from .licensing import LicenceEngine, Store, connect


def engine_for(settings: Settings, store: Store | None = None) -> LicenceEngine:
    """An engine on ``store`` (by default a new client for ``HALO_GATE_REDIS_URL``)."""
    return LicenceEngine(
        connect(settings.redis_url) if store is None else store,
        instance=settings.instance,
        idle_timeout=settings.idle_timeout,
        session_max_age=settings.session_max_age,
        named_cooldown=settings.named_cooldown,
        audit_maxlen=settings.audit_maxlen,
        history_days=settings.history_days,
        queue=settings.queue,
        queue_max=settings.queue_max,
        queue_grace=settings.queue_grace,
        queue_offer=settings.queue_offer,
        max_sessions_per_person=settings.max_sessions_per_person,
        harvest_idle=settings.harvest_idle,
    )
