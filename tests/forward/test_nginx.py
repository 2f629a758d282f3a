"""Forward auth end to end: Debian's nginx with the shipped config in front of a small app.

The test fills in ``examples/forward-auth/nginx.conf`` and starts nginx on a port of its own
with a temporary prefix; the gateway is ``halo_gate.gateway.forward`` under uvicorn, the sign-in the
real identity provider.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from halo_gate.cli.demo import IdentityProvider
from halo_gate.cli.serve import create_app
from halo_gate.licensing import LicenceEngine
from halo_gate.session import Session
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import SECRET, Server, Site, free_port, person
from tests.support import gate_of

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "forward-auth" / "nginx.conf"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


async def upstream(request: Request) -> Response:
    """The protected application: it only reads the headers nginx sets from the gateway."""
    return JSONResponse(
        {
            "path": request.url.path,
            "user": request.headers.get("x-halo-user"),
            "licence": request.headers.get("x-halo-licence"),
            "groups": request.headers.get("x-halo-groups"),
        }
    )


class Nginx:
    """nginx on a free port with the shipped server block filled in, in a temporary prefix."""

    def __init__(self, gate: str, app: str) -> None:
        if NGINX is None:
            raise RuntimeError(
                "These tests need Debian's nginx (package nginx-light); scripts/test installs it."
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="halo-nginx-")
        root = Path(self._dir.name)
        server = CONFIG.read_text()
        for name, value in (("LISTEN", f"127.0.0.1:{self.port}"), ("GATE", gate), ("APP", app)):
            server = server.replace("{{" + name + "}}", value)
        assert "{{" not in server, "the shipped config has a placeholder the test did not fill"
        (root / "server.conf").write_text(server)
        temp = " ".join(
            f"{kind}_temp_path {root / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (root / "nginx.conf").write_text(
            f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'} warn;\n"
            "events { worker_connections 64; }\n"
            f"http {{ access_log off; {temp} include {root / 'server.conf'}; }}\n"
        )
        self.error_log = root / "error.log"
        self._process = subprocess.Popen(
            [NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(self.error_log)]
            + ["-g", "daemon off; master_process off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx did not start: {self.error_log.read_text()!r}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            threading.Event().wait(0.02)
        raise RuntimeError("nginx did not start listening in time")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._dir.cleanup()


@dataclass
class ProxiedSite(Site):
    """The site as browsers see it: through nginx."""

    proxy_url: str = ""

    @property
    def url(self) -> str:
        return self.proxy_url


@pytest.fixture
def app_server() -> Iterator[Server]:
    server = Server(Starlette(routes=[Route("/{rest:path}", upstream, methods=["GET", "POST"])]))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def site(idp: IdentityProvider, app_server: Server) -> AsyncIterator[ProxiedSite]:
    service = create_app(
        secret_key=SECRET,
        oidc_issuer=idp.issuer,
        oidc_client_id=idp.client_id,
        oidc_client_secret=idp.client_secret,
        redis_url=REDIS_URL,
        instance=unique_instance(),
        cookie_secure=False,
        concurrent_seats=1,
    )
    gate_server = Server(service)
    gate_server.start()
    nginx = Nginx(f"127.0.0.1:{gate_server.port}", f"127.0.0.1:{app_server.port}")
    client = Redis.from_url(REDIS_URL)
    engine = LicenceEngine(client, instance=gate_of(service).settings.instance)
    proxied = ProxiedSite(gate_server, gate_of(service), engine, idp, proxy_url=nginx.url)
    yield proxied
    for browser in proxied.browsers:
        await browser.client.aclose()
    nginx.stop()
    gate_server.stop()
    await drop_instance(client, gate_of(service).settings.instance)
    await client.aclose()
    await asyncio.sleep(0)


async def test_sign_in_admission_pool_full_logout_and_the_freed_slot(
    site: ProxiedSite, idp: IdentityProvider
) -> None:
    ann, bob = site.browser(), site.browser()
    # Not signed in: nginx's check says 401 and the gateway sends the browser to sign in.
    first = await ann.login(person(idp, "ann@example.com", "hr"), "/reports?year=2026")
    assert first.status_code == 200, first.text
    assert str(first.url) == site.url + "/reports?year=2026"
    assert first.json() == {
        "path": "/reports",
        "user": "ann@example.com",
        "licence": "concurrent",
        "groups": "hr",
    }
    # A client's own identity header never reaches the app.
    forged = await ann.get("/x", headers={"X-Halo-User": "boss@example.com"})
    assert forged.json()["user"] == "ann@example.com"

    # Bob is signed in but waits in line (see the README's "Waiting room").
    refused = await bob.login(person(idp, "bob@example.com"))
    assert refused.status_code == 503
    assert "The one concurrent licence is in use" in refused.text
    assert 'data-testid="position">1<' in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert 'http-equiv="refresh"' in refused.text
    api = await site.browser(accept="application/json").get("/api/items")
    assert api.status_code == 401
    assert api.json()["error"] == "login_required"

    # A heartbeat renews the cookie through nginx's answer.
    site.shift_clock(61)
    renewed = await ann.get("/x")
    assert renewed.status_code == 200
    assert "halo_session=" in renewed.headers["set-cookie"]

    out = await ann.logout()
    assert out.status_code == 303
    assert (await site.engine.usage()).in_use == 0
    assert (await ann.get("/x")).status_code == 302  # back to sign-in

    admitted = await bob.get("/")  # his place comes first: no new sign-in
    assert admitted.status_code == 200
    assert admitted.json()["user"] == "bob@example.com"


async def test_a_refused_heartbeat_gets_the_real_pool_full_page_through_nginx(
    site: ProxiedSite, idp: IdentityProvider
) -> None:
    holder = site.browser()
    assert (await holder.login(person(idp, "holder@example.com"))).status_code == 200
    # Carol's session lost its slot (the store forgot it) while the pool filled up.
    gate = site.gate
    lost = Session(
        "lost-session-id-0001", "carol@example.com", "concurrent", int(gate.clock()) - 61
    )
    carol = site.browser()
    carol.set_session_cookie(gate.codec.encode(lost))
    page = await carol.get("/reports")
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "The one concurrent licence is in use" in page.text  # she waits in line
    assert int(page.headers["retry-after"]) > 0
    api = await carol.get("/reports", headers={"accept": "application/json"})
    assert api.status_code == 503
    assert api.json()["error"] == "pool_full"


def test_the_shipped_config_has_exactly_the_three_placeholders() -> None:
    assert set(re.findall(r"\{\{(\w+)\}\}", CONFIG.read_text())) == {"LISTEN", "GATE", "APP"}
