"""What every part of the pipeline is built from: one frozen ``Core`` per gateway.

``HaloGate`` builds it once and hands each part only the pieces it uses; no part knows the
gateway that holds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings
from ..config.installation import Configuration, engine_for
from ..licensing import LicenceEngine, Store, connect
from ..licensing.guard import StoreGuard
from ..session import CookieReader, CsrfTokens, HeartbeatMemory, SessionCodec
from .paths import Urls

Clock = Callable[[], float]


class Roles:
    """What a person's groups decide: a named seat at first sign-in, administration, and which
    groups the cookie keeps first."""

    def __init__(self, settings: Settings, pool_groups: Callable[[], frozenset[str]]) -> None:
        self._admins = frozenset(settings.admins)
        self._named_groups = frozenset(settings.named_groups)
        self._admin_groups = frozenset(settings.admin_groups)
        # The pool rules' groups as the store has them now (an administrator may change them).
        self._pool_groups = pool_groups

    def in_named_group(self, groups: tuple[str, ...]) -> bool:
        return not self._named_groups.isdisjoint(groups)

    def is_admin(self, person: str, groups: tuple[str, ...]) -> bool:
        return person in self._admins or not self._admin_groups.isdisjoint(groups)

    def decisive_first(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        """The groups, those the gateway decides by first (named, admin, pool rules): a long
        list is trimmed from its end to fit the cookie, and a readmission counts what is left."""
        decisive = self._named_groups | self._admin_groups | self._pool_groups()
        return tuple(sorted(groups, key=lambda group: group not in decisive))


@dataclass(frozen=True, slots=True, kw_only=True)
class Core:
    settings: Settings
    store: Store
    engine: LicenceEngine
    configuration: Configuration
    guard: StoreGuard
    clock: Clock
    codec: SessionCodec
    cookies: CookieReader
    memory: HeartbeatMemory
    csrf: CsrfTokens
    urls: Urls
    roles: Roles


def build_core(settings: Settings) -> Core:
    store = connect(settings.redis_url)
    engine = engine_for(settings, store)

    def clock() -> float:
        # The gateway's time, shifted with the engine's clock so tests move both together.
        return time.time() + engine.clock_offset

    return Core(
        settings=settings,
        store=store,
        engine=engine,
        configuration=Configuration(settings, engine, store),
        guard=StoreGuard(),
        clock=clock,
        codec=SessionCodec(
            settings.signing_keys,
            max_age=settings.idle_timeout,
            clock=clock,
            skew=settings.clock_skew,
        ),
        cookies=CookieReader(settings.cookie_name),
        memory=HeartbeatMemory(),
        csrf=CsrfTokens(settings.signing_keys),
        urls=Urls(settings.path_prefix, settings.public_url, settings.websocket_origins),
        roles=Roles(settings, lambda: engine.pool_rules.groups),
    )
