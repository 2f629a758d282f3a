"""Identity-source fixtures: a gateway in front of an app that shows what it was handed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from halo_gate import HaloGate
from halo_gate.licensing import LicenceEngine
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import SECRET, Server


async def show(request: Request) -> Response:
    """The person, licence and session the app was handed, and every header it saw."""
    user = request.scope.get("halo_gate.user", request.user)
    return JSONResponse(
        {
            "user": user.display_name if user.is_authenticated else None,
            "licence": getattr(user, "licence", None),
            "groups": list(getattr(user, "groups", ())),
            "session_id": getattr(user, "session_id", None),
            "scopes": list(request.auth.scopes),
            "headers": [name for name, _ in request.headers.items()],
        }
    )


def shower() -> Starlette:
    return Starlette(routes=[Route("/{rest:path}", show)])


class Gateway:
    """One gateway deployment under test, served by uvicorn on 127.0.0.1."""

    def __init__(self, gate: HaloGate, engine: LicenceEngine, served: ASGIApp) -> None:
        self.gate = gate
        self.engine = engine
        self.server = Server(served)
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url

    def shift_clock(self, seconds: float) -> None:
        self.gate.engine.clock_offset += seconds
        self.engine.clock_offset += seconds


@pytest.fixture
async def gateway() -> AsyncIterator[Any]:
    """Start gateways with an identity source on the real Redis, one installation each."""
    started: list[Gateway] = []
    client = Redis.from_url(REDIS_URL)

    def start(
        app: ASGIApp | None = None,
        wrap: Callable[[ASGIApp], ASGIApp] | None = None,
        **overrides: Any,
    ) -> Gateway:
        """A gateway in front of ``app`` (default: one showing what it was handed), served
        as ``wrap(gateway)`` when given (outer middleware)."""
        settings: dict[str, Any] = {
            "secret_key": SECRET,
            "redis_url": REDIS_URL,
            "instance": unique_instance(),
            "cookie_secure": False,
            "public_paths": "/public",
            **overrides,
        }
        gate = HaloGate(app or shower(), **settings)
        engine = LicenceEngine(
            client,
            instance=gate.settings.instance,
            idle_timeout=gate.settings.idle_timeout,
            session_max_age=gate.settings.session_max_age,
        )
        started.append(Gateway(gate, engine, gate if wrap is None else wrap(gate)))
        return started[-1]

    yield start
    for item in started:
        item.server.stop()
        await drop_instance(client, item.gate.settings.instance)
    await client.aclose()
