"""The installation the settings name: its licence engine (one place builds it, for the gateway,
the console's commands and the CLI alike), and the seats and named people applied to it once per
worker before any decision."""

from __future__ import annotations

import asyncio
import logging

from ..licensing import LicenceEngine, Store, connect
from .settings import Settings
from .startup import warn_if_evicting

logger = logging.getLogger("halo_gate")


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


class Configuration:
    """Applies the deployment's seats, named people and pool rules to the store, once per
    worker; every decision awaits ``ensure()`` first (a no-op once done)."""

    def __init__(self, settings: Settings, engine: LicenceEngine, store: Store) -> None:
        self._settings = settings
        self._engine = engine
        self._store = store
        self._lock = asyncio.Lock()
        self.done = False

    async def ensure(self) -> None:
        if self.done:
            return
        async with self._lock:
            if self.done:
                return
            settings = self._settings
            seatless = await self._engine.configure(
                concurrent_seats=settings.concurrent_seats,
                named_seats=settings.named_seats,
                named_users=list(settings.named_users),
                pool_reserve=settings.pool_reserve,
                pool_cap=settings.pool_cap,
            )
            if seatless:
                logger.warning("no named seat left for: %s", ", ".join(seatless))
            if settings.redis_url is not None:
                await warn_if_evicting(self._store)
            self.done = True
