"""``HaloGate``: the pure ASGI entry. It builds the pipeline's parts once, then for each request:

own route (``routes``) → or identify (``identify``) → decide (``decide``) → answer (``answer``).

A signed-in request between heartbeats is answered here from the cookie alone, with no store
call and no await before the application's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import identity as identity_sources
from ..admin import Administration
from ..admin.ended import EndedListener
from ..config import Settings
from ..identity.oidc import OIDCClient
from ..licensing import StoreUnavailable
from ..licensing.abandoned import AbandonedSessions
from ..session import Seen
from .answer import WS_POLICY_VIOLATION, Answerer, hand_on
from .core import build_core
from .decide import Decider
from .identify import Identifier
from .paths import HOST_LIKE, has_unsafe_segment
from .pipeline import Pipeline
from .routes import OwnRoutes
from .verdict import ENDED, HARVESTED, Gate

logger = logging.getLogger("halo_gate")

# The scope key that marks a request whose Host passed HALO_GATE_ALLOWED_HOSTS.
HOST_CHECKED = "halo_gate.host_checked"


class HaloGate:
    """Licence-enforcing login gateway: ``app = HaloGate(app, **settings)``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        identity: str | identity_sources.Resolver | None = None,
        **overrides: Any,
    ) -> None:
        resolver = None
        if callable(identity):
            resolver, identity = identity, "app"
        if identity is not None:
            overrides["identity"] = identity
        settings = Settings.load(**overrides)
        self.core = core = build_core(settings)
        self.settings, self.store, self.engine = settings, core.store, core.engine
        self.codec, self.memory, self.clock = core.codec, core.memory, core.clock
        self.breaker = core.guard.breaker
        source = identity_sources.build(settings, core.clock, resolver)
        self.identify = Identifier(source, core.memory, settings.signing_keys[0])
        self.decider = Decider(core)
        self.answer = Answerer(core)
        self.pipeline = Pipeline(core, self.identify, self.decider)
        self.abandoned = AbandonedSessions(core.engine, core.guard)
        self.admin = Administration(core.engine, settings, guard=core.guard)
        self.admin.metrics.worker_counters.update(self._worker_counters())
        self.oidc = OIDCClient(settings) if settings.identity == "oidc" else None
        self.routes = OwnRoutes(
            core, self.identify, self.decider, self.answer, self.admin, self.oidc, self.abandoned
        )
        self.ended_listener = EndedListener(core.engine, self._ended_elsewhere)
        self.admin.metrics.worker_counters.update(self.ended_listener.counters())
        self.app = app if source is None else source.wrap(app)
        # Read on every request: kept as plain attributes.
        self._read_cookie = core.cookies.read
        self._between_heartbeats = self.decider.between_heartbeats
        self._prefix = settings.path_prefix.rstrip("/")
        self._own_under = self._prefix + "/"
        self._public = self.pipeline.public
        self._passive = self.pipeline.passive
        self._cookie_only = source is None
        # A request naming another host is refused (400) before anything reads its Host.
        self._host_check: ASGIApp | None = None
        if settings.allowed_hosts:
            self._host_check = TrustedHostMiddleware(
                self._host_checked, allowed_hosts=list(settings.allowed_hosts)
            )
        _warn_about(settings)

    # ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._host_check is not None and HOST_CHECKED not in scope:
            await self._host_check(scope, receive, send)  # comes back here once the host passed
            return
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self.app(scope, self._on_startup(receive), self._on_shutdown(send))
                return
            if kind != "websocket":
                await self.app(scope, receive, send)
                return
            if not self.core.urls.websocket_origin_allowed(HTTPConnection(scope)):
                # A page on another site may open a WebSocket with this site's cookies.
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                return
        path: str = scope["path"]
        if path == self._prefix or path.startswith(self._own_under):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
            elif has_unsafe_segment(path):
                # Under the prefix, yet none of ours (a "." or ";" segment): the prefix is never
                # the application's, so the request is refused here.
                await self.answer(Gate("bad_path"), self.app, scope, receive, send)
            else:
                await self.routes(scope, receive, send)
            return
        session = self.codec.decode(self._read_cookie(scope))
        if (
            self._cookie_only
            and session is not None
            and path not in self._public
            and not path.startswith(HOST_LIKE)
            and self._between_heartbeats(session, passive=path in self._passive)
        ):
            # The common case, kept free of store calls and of any await before the app's.
            hand_on(scope, session)
            await self.app(scope, receive, send)
            return
        gate = await self.pipeline(scope, session)
        await self.answer(gate, self.app, scope, receive, send)

    async def _host_checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[HOST_CHECKED] = True
        await self(scope, receive, send)

    # Lifespan: the store's connections and the revocation listener

    def _on_startup(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.ended_listener.start()
                try:
                    await self.core.guard.call(self.ensure_configured, gated=False)
                except StoreUnavailable as error:
                    logger.warning("licence store not answering at startup: %s", error)
            return message

        return wrapped

    def _on_shutdown(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.aclose()
            await send(message)

        return wrapped

    async def ensure_configured(self) -> None:
        """Apply the deployment's seats and named people once per worker, before any decision."""
        await self.core.configuration.ensure()

    async def aclose(self) -> None:
        """Close the store's connections (done at lifespan shutdown)."""
        await self.ended_listener.stop()
        await self.abandoned.aclose()
        await self.store.aclose()

    def _ended_elsewhere(self, reason: str, session_ids: list[str]) -> None:
        """Sessions ended by any worker: refused here from their next request on."""
        ended = Seen(self.clock(), replace(ENDED, reason=reason))
        if reason == "harvested":
            # The slot went to a colleague, not the session: the next request asks the store,
            # which readmits it or refuses it with the reason.
            ended = Seen(0.0, HARVESTED)
        for session_id in session_ids:
            self.memory.put(session_id, ended)

    def _worker_counters(self) -> dict[str, tuple[str, Callable[[], int]]]:
        """This worker's counters of store faults, for ``/_halo/metrics``."""
        guard, abandoned = self.core.guard, self.abandoned
        return {
            "store_breaker_trips": (
                "Times this worker's circuit breaker opened after a store failure.",
                lambda: guard.breaker.trips,
            ),
            "store_short_circuited": (
                "Requests this worker answered without the store while its breaker was open.",
                lambda: guard.breaker.short_circuited,
            ),
            "store_errors": (
                "Store calls of this worker that failed or timed out.",
                lambda: guard.errors,
            ),
            "abandoned_sessions_released": (
                "Sessions whose admission timed out at sign-in, released in the background.",
                lambda: abandoned.released,
            ),
        }


def _warn_about(settings: Settings) -> None:
    """Startup warnings about settings that work but are unsafe or surprising."""
    if settings.public_url is None and settings.identity == "oidc":
        logger.warning(
            "HALO_GATE_PUBLIC_URL is not set: sign-in callbacks are built from each request's "
            "Host header. Set it (and HALO_GATE_ALLOWED_HOSTS) in production."
        )
    if settings.user_claim == "email" and not settings.require_verified_email:
        logger.warning(
            "HALO_GATE_REQUIRE_VERIFIED_EMAIL is false: anyone the identity provider lets "
            "claim an e-mail address is taken to be its owner."
        )
    if settings.redis_url is None:
        logger.warning(
            "HALO_GATE_REDIS_URL is not set: using the embedded in-process store. Licences "
            "are counted in this process only and forgotten at restart."
        )
