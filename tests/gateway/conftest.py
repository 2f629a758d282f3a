"""Gateway fixtures: the real identity provider over HTTP, a real uvicorn server, a browser."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from halo_gate import HaloGate
from halo_gate.cli.demo import IdentityProvider, start_identity_provider
from halo_gate.licensing import LicenceEngine
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.support import free_port

SECRET = "a-test-signing-key-0123456789"


async def whoami(request: Request) -> Response:
    user = request.user
    return JSONResponse(
        {
            "user": user.identity if user.is_authenticated else None,
            "licence": getattr(user, "licence", None),
            "groups": list(getattr(user, "groups", ())),
            "scopes": list(request.auth.scopes),
        }
    )


async def page(request: Request) -> Response:
    return PlainTextResponse(f"page for {request.user.display_name}")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.user.display_name}")
    await websocket.close()


def make_app() -> Starlette:
    """The application behind the gateway in every test."""
    return Starlette(
        routes=[
            Route("/", page),
            Route("/whoami", whoami),
            Route("/public/info", page),
            Route("/public/whoami", whoami),
            Route("/poll", whoami),
            Route("/{rest:path}", page),
            WebSocketRoute("/ws", echo),
        ]
    )


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    with start_identity_provider() as provider:
        yield provider


class Server:
    """A uvicorn server on a free port, in a thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="websockets-sansio",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.01)
        raise RuntimeError("uvicorn did not start in time")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def uvicorn_process(
    app: str, settings: dict[str, str], *options: str, ready: str = "/_halo/health"
) -> Iterator[tuple[str, int]]:
    """``uvicorn APP OPTIONS`` in a process of its own, configured by ``HALO_GATE_*`` settings
    (given without the prefix); yields its URL and pid once ``ready`` answers 200."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HALO_GATE_")}
    env.update({"HALO_GATE_" + name: value for name, value in settings.items()})
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), *options]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + ready).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"uvicorn {' '.join(options)} did not start")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


# Settings of a gateway that never signs anyone in through an IdP (tests mint their cookies).
NO_IDP = {
    "SECRET_KEY": SECRET,
    "OIDC_ISSUER": "http://127.0.0.1:9",
    "OIDC_CLIENT_ID": "client",
    "OIDC_CLIENT_SECRET": "secret",
    "COOKIE_SECURE": "false",
}


@dataclass
class Site:
    """One gateway deployment under test: the server, its gateway and an admin's engine."""

    server: Server
    gate: HaloGate
    engine: LicenceEngine  # the same installation, on the test's own connection
    idp: IdentityProvider
    browsers: list[Browser] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def shift_clock(self, seconds: float) -> None:
        """Move the gateway's and the store scripts' clock forward."""
        self.gate.engine.clock_offset += seconds
        self.engine.clock_offset += seconds

    def browser(self, **headers: str) -> Browser:
        browser = Browser(self, httpx.AsyncClient(headers={"accept": "text/html", **headers}))
        self.browsers.append(browser)
        return browser


@dataclass
class Browser:
    """A browser: one cookie jar, following redirects, posting the IdP's form."""

    site: Site
    client: httpx.AsyncClient

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(urljoin(self.site.url, path), **kwargs)

    async def start_login(self, path: str = "/") -> httpx.Response:
        """Navigate to ``path`` and follow the redirects up to the IdP's login form."""
        response = await self.client.get(urljoin(self.site.url, path), follow_redirects=True)
        assert response.url.path.endswith("/oauth2/authorize"), response.url
        return response

    async def submit_idp_form(self, form: httpx.Response, **data: str) -> httpx.Response:
        """Post the IdP's form; the answer is its redirect to the gateway's callback."""
        response = await self.client.post(str(form.url), data=data)
        assert response.status_code == 302, response.text
        return response

    async def login(self, sub: str, path: str = "/", **headers: str) -> httpx.Response:
        """Sign in as ``sub`` from ``path``; the final response after every redirect."""
        form = await self.start_login(path)
        redirect = await self.submit_idp_form(form, sub=sub)
        return await self.client.get(
            redirect.headers["location"], follow_redirects=True, headers=headers
        )

    async def logout(self) -> httpx.Response:
        page = await self.get("/_halo/logout")
        match = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        assert match, page.text
        return await self.client.post(
            urljoin(self.site.url, "/_halo/logout"),
            data={"csrf_token": unescape(match.group(1))},
            headers={"origin": self.site.url},
        )

    @property
    def session_cookie(self) -> str | None:
        return self.client.cookies.get(self.site.gate.settings.cookie_name)

    def set_session_cookie(self, value: str) -> None:
        self.client.cookies.set(self.site.gate.settings.cookie_name, value, domain="127.0.0.1")


def site_settings(site: Site) -> dict[str, Any]:
    """The settings of ``site``'s gateway, for another worker of the same deployment."""
    settings = site.gate.settings
    return {
        "secret_key": settings.signing_keys,
        "oidc_issuer": settings.oidc_issuer,
        "oidc_client_id": settings.oidc_client_id,
        "oidc_client_secret": str(settings.oidc_client_secret),
        "redis_url": settings.redis_url,
        "instance": settings.instance,
        "cookie_secure": False,
        "concurrent_seats": settings.concurrent_seats,
        "named_seats": settings.named_seats,
        "heartbeat_interval": settings.heartbeat_interval,
        "idle_timeout": settings.idle_timeout,
        "queue": settings.queue,
        "queue_grace": settings.queue_grace,
        "queue_offer": settings.queue_offer,
        "queue_max": settings.queue_max,
    }


def person(idp: IdentityProvider, email: str, *groups: str, verified: bool = True) -> str:
    idp.set_user(email, email=email, email_verified=verified, groups=list(groups))
    return email


@pytest.fixture
async def site_factory(idp: IdentityProvider) -> AsyncIterator[Any]:
    """Start gateways in front of the test app on the real Redis, one installation each."""
    sites: list[Site] = []
    clients: list[Redis] = []

    async def start(**overrides: Any) -> Site:
        settings: dict[str, Any] = {
            "secret_key": SECRET,
            "oidc_issuer": idp.issuer,
            "oidc_client_id": idp.client_id,
            "oidc_client_secret": idp.client_secret,
            "redis_url": REDIS_URL,
            "instance": unique_instance(),
            "cookie_secure": False,
            "public_paths": "/public",
            "passive_paths": "/poll",
            **overrides,
        }
        gate = HaloGate(make_app(), **settings)
        server = Server(gate)
        server.start()
        client = Redis.from_url(REDIS_URL)
        clients.append(client)
        engine = LicenceEngine(
            client,
            instance=gate.settings.instance,
            idle_timeout=gate.settings.idle_timeout,
            session_max_age=gate.settings.session_max_age,
            harvest_idle=gate.settings.harvest_idle,
        )
        site = Site(server, gate, engine, idp)
        sites.append(site)
        return site

    yield start
    for site in sites:
        for browser in site.browsers:
            await browser.client.aclose()
        site.server.stop()
        if site.gate.settings.redis_url == REDIS_URL:
            await drop_instance(site.engine.store, site.gate.settings.instance)
    for client in clients:
        await client.aclose()
    await asyncio.sleep(0)
