"""What every shipped proxy configuration must do, end to end: ``ForwardAuthContract``, which a
test module subclasses once per proxy (``test_nginx``, ``test_caddy``, ``test_traefik``).

The gateway is ``halo-gate serve``'s application under uvicorn, configured with
``HALO_GATE_AUTH_PROXY`` for the proxy in front of it and one concurrent licence; the sign-in is
the real identity provider; browsers only ever talk to the proxy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import unescape
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from halo_gate.cli.demo import IdentityProvider
from halo_gate.cli.serve import create_app
from halo_gate.gateway.decide import REFUSAL_HOLD
from halo_gate.licensing import LicenceEngine
from halo_gate.session import Session
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.forward.proxies import Proxy, Upstream
from tests.gateway.conftest import SECRET, Browser, Server, Site, person
from tests.support import gate_of

PLACEHOLDERS = {"LISTEN", "GATE", "APP"}
REFRESH = re.compile(r'http-equiv="refresh" content="\d+; url=([^"]*)"')
# Every address a page may send a browser to: its refresh, links and forms.
PAGE_URLS = re.compile(r'(?:url=|href="|action=")([^"]*)"')
C0_AND_SPACE = "".join(map(chr, range(0x21)))


def refresh_url(response: httpx.Response) -> str | None:
    """The address a page's ``<meta http-equiv="refresh">`` loads, if it has one."""
    match = REFRESH.search(response.text)
    return unescape(match.group(1)) if match else None


@dataclass
class ProxiedBrowser(Browser):
    """A browser on the proxied site. Where the proxy hands the gateway's 401 to the browser
    (Caddy, Traefik), the page's refresh takes it on to the sign-in, as a browser's would."""

    async def start_login(self, path: str = "/") -> httpx.Response:
        response = await self.client.get(urljoin(self.site.url, path), follow_redirects=True)
        target = refresh_url(response) if response.status_code == 401 else None
        if target is not None:
            response = await self.client.get(
                urljoin(str(response.url), target), follow_redirects=True
            )
        assert response.url.path.endswith("/oauth2/authorize"), response.url
        return response


@dataclass
class ProxiedSite(Site):
    """The site as browsers see it: through the proxy."""

    proxy: Proxy = field(kw_only=True)
    upstream: Upstream = field(kw_only=True)

    @property
    def url(self) -> str:
        return self.proxy.url

    def browser(self, **headers: str) -> Browser:
        browser = ProxiedBrowser(
            self, httpx.AsyncClient(headers={"accept": "text/html", **headers})
        )
        self.browsers.append(browser)
        return browser


@asynccontextmanager
async def proxied_site(
    proxy: type[Proxy], idp: IdentityProvider, upstream: Upstream
) -> AsyncIterator[ProxiedSite]:
    """The gateway (``halo-gate serve``'s app, one concurrent licence, ``/pub`` public) and
    ``proxy`` in front of ``upstream``, on the real Redis."""
    service = create_app(
        secret_key=SECRET,
        oidc_issuer=idp.issuer,
        oidc_client_id=idp.client_id,
        oidc_client_secret=idp.client_secret,
        redis_url=REDIS_URL,
        instance=unique_instance(),
        cookie_secure=False,
        concurrent_seats=1,
        public_paths="/pub",
        auth_proxy=proxy.kind,
        trusted_proxies="127.0.0.1",
    )
    gate = gate_of(service)
    gate_server = Server(service)
    gate_server.start()
    client = Redis.from_url(REDIS_URL)
    try:
        running = proxy(f"127.0.0.1:{gate_server.port}", f"127.0.0.1:{upstream.server.port}")
    except BaseException:
        gate_server.stop()
        await client.aclose()
        raise
    engine = LicenceEngine(client, instance=gate.settings.instance)
    site = ProxiedSite(gate_server, gate, engine, idp, proxy=running, upstream=upstream)
    try:
        yield site
    finally:
        for browser in site.browsers:
            await browser.client.aclose()
        running.stop()
        gate_server.stop()
        await drop_instance(client, gate.settings.instance)
        await client.aclose()
        await asyncio.sleep(0)


def origin_of(base: str, reference: str) -> str:
    """The origin a browser on ``base`` goes to when it follows ``reference``, read by the URL
    standard's rules for http(s), not ``urljoin``'s: tabs and newlines are dropped, ``\\`` is
    ``/``, and any number of leading slashes (``///evil.test/``) name a host."""
    scheme, netloc = urlsplit(base)[:2]
    reference = re.sub(r"[\t\n\r]", "", reference.strip(C0_AND_SPACE)).replace("\\", "/")
    named = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", reference)
    if named:
        rest = reference[named.end() :]
        if named.group(1).lower() != scheme or rest.startswith("/"):
            host = re.split(r"[/?#]", rest.lstrip("/"))[0]
            return f"{named.group(1).lower()}://{host.lower()}"
    elif reference.startswith("//"):
        return f"{scheme}://{re.split(r'[/?#]', reference.lstrip('/'))[0].lower()}"
    return f"{scheme}://{netloc}"


def assert_stays_on(origin: str, page: httpx.Response) -> None:
    """Every address ``page`` may send a browser to (a redirect, its refresh, links and forms)
    is on ``origin``."""
    found = [unescape(value) for value in PAGE_URLS.findall(page.text)]
    found += page.headers.get_list("location")
    for reference in found:
        assert origin_of(str(page.url), reference) == origin, (reference, page.text)


class ForwardAuthContract:
    """What every shipped proxy configuration must do; subclassed with ``proxy`` set."""

    proxy: ClassVar[type[Proxy]]

    @pytest.fixture
    async def site(self, idp: IdentityProvider, upstream: Upstream) -> AsyncIterator[ProxiedSite]:
        async with proxied_site(self.proxy, idp, upstream) as site:
            yield site

    def test_the_shipped_config_has_the_three_placeholders_and_names_its_settings(
        self,
    ) -> None:
        text = self.proxy.config.read_text()
        assert set(re.findall(r"\{\{(\w+)\}\}", text)) == PLACEHOLDERS
        assert f"HALO_GATE_AUTH_PROXY={self.proxy.kind}" in text
        assert "HALO_GATE_TRUSTED_PROXIES=" in text

    async def test_sign_in_through_the_proxy_admits_and_the_app_sees_the_person(
        self, site: ProxiedSite, idp: IdentityProvider
    ) -> None:
        ann = site.browser()
        # Not signed in: the browser is sent to sign in, and comes back where it started.
        first = await ann.login(person(idp, "ann@example.com", "hr"), "/reports?year=2026")
        assert first.status_code == 200, first.text
        assert str(first.url) == site.url + "/reports?year=2026"
        assert first.json() == {
            "path": "/reports",
            "user": "ann@example.com",
            "licence": "concurrent",
            "groups": "hr",
        }
        # A heartbeat renews the cookie, and the proxy hands the new one to the browser.
        before = ann.session_cookie
        site.shift_clock(61)
        renewed = await ann.get("/x")
        assert renewed.status_code == 200
        assert "halo_session=" in renewed.headers["set-cookie"]
        assert ann.session_cookie not in (None, before)
        # A request nobody signed in makes is sent to sign in, not to the app.
        calls = len(site.upstream.calls)
        anonymous = await site.browser().get("/reports")
        assert anonymous.status_code == self.proxy.sign_in_status
        # nginx lets the gateway redirect; Caddy and Traefik show its 401 page, which goes on.
        onward = anonymous.headers.get("location") or refresh_url(anonymous)
        assert onward == "/_halo/login?next=%2Freports"
        api = await site.browser(accept="application/json").get("/api/items")
        assert api.status_code == 401
        assert api.json()["error"] == "login_required"
        assert len(site.upstream.calls) == calls

    async def test_a_clients_own_identity_headers_never_reach_the_app(
        self, site: ProxiedSite, idp: IdentityProvider
    ) -> None:
        forged = {
            "X-Halo-User": "boss@example.com",
            "X-Halo-Licence": "named",
            "X-Halo-Groups": "admins",
        }
        ann = site.browser()
        assert (await ann.login(person(idp, "ann@example.com"))).status_code == 200
        signed_in = (await ann.get("/x", headers=forged)).json()
        assert (signed_in["user"], signed_in["licence"]) == ("ann@example.com", "concurrent")
        assert not signed_in["groups"]
        # On a public path the gateway names nobody: the forged headers must not stand in.
        public = await site.browser().get("/pub/page", headers=forged)
        assert public.status_code == 200
        assert public.json() == {"path": "/pub/page", "user": None, "licence": None, "groups": None}

    async def test_a_forged_original_request_never_reaches_the_app(self, site: ProxiedSite) -> None:
        # The headers each proxy uses to describe the original request, sent by the client
        # to pass as the gateway's health route or a public path.
        for disguise in ("/_halo/health", "/pub/page"):
            forged = {
                "X-Original-URI": disguise,
                "X-Original-Method": "GET",
                "X-Forwarded-Uri": disguise,
                "X-Forwarded-Method": "GET",
            }
            for accept in ("application/json", "text/html"):
                async with httpx.AsyncClient(headers={"accept": accept, **forged}) as client:
                    deleted = await client.delete(site.url + "/admin/everything")
                    read = await client.get(site.url + "/admin/everything")
                assert deleted.status_code == 401, deleted.text
                assert read.status_code in (401, 302), read.text
        assert not [call for call in site.upstream.calls if call[1] == "/admin/everything"]

    async def test_the_check_itself_cannot_be_asked_through_the_proxy(
        self, site: ProxiedSite, idp: IdentityProvider
    ) -> None:
        ann = site.browser()
        assert (await ann.login(person(idp, "ann@example.com"))).status_code == 200
        forged = {"X-Original-URI": "/x", "X-Forwarded-Uri": "/x"}
        asked = await ann.get("/_halo/auth", headers=forged)
        # nginx: an internal location; Caddy and Traefik: checked like any other address, and
        # the gateway refuses to judge its own route.
        assert asked.status_code in (403, 404), asked.text
        assert "x-halo-user" not in asked.headers
        assert asked.headers.get("x-halo-reason") in (None, "own_route")

    async def test_pool_full_gives_the_refusal_page_and_logout_frees_the_slot(
        self, site: ProxiedSite, idp: IdentityProvider
    ) -> None:
        ann, bob = site.browser(), site.browser()
        assert (await ann.login(person(idp, "ann@example.com"))).status_code == 200
        # Bob is signed in but waits in line (see the README's "Waiting room").
        refused = await bob.login(person(idp, "bob@example.com"), "/reports")
        assert refused.status_code == self.proxy.refusal_status
        assert refused.headers["content-type"].startswith("text/html")
        assert "The one concurrent licence is in use" in refused.text
        assert 'data-testid="position">1<' in refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert refresh_url(refused) == "/reports"
        api = await bob.get("/reports", headers={"accept": "application/json"})
        assert api.status_code == self.proxy.refusal_status
        assert api.json()["error"] == "pool_full"
        assert ("GET", "/reports") not in site.upstream.calls

        out = await ann.logout()
        assert out.status_code == 303
        assert (await site.engine.usage()).in_use == 0
        assert (await ann.get("/x")).status_code == self.proxy.sign_in_status
        site.shift_clock(REFUSAL_HOLD)  # a refusal is remembered that long before asking again
        admitted = await bob.get("/")  # his place comes first: no new sign-in
        assert admitted.status_code == 200, admitted.text
        assert admitted.json()["user"] == "bob@example.com"

    async def test_a_refused_heartbeat_gets_the_pool_full_page(
        self, site: ProxiedSite, idp: IdentityProvider
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
        assert page.status_code == self.proxy.refusal_status
        assert page.headers["content-type"].startswith("text/html")
        assert "The one concurrent licence is in use" in page.text  # she waits in line
        assert int(page.headers["retry-after"]) > 0
        api = await carol.get("/reports", headers={"accept": "application/json"})
        assert api.status_code == self.proxy.refusal_status
        assert api.json()["error"] == "pool_full"

    async def test_a_refusal_for_a_host_like_path_stays_on_the_proxys_origin(
        self, site: ProxiedSite, idp: IdentityProvider
    ) -> None:
        ann, bob = site.browser(), site.browser()
        assert (await ann.login(person(idp, "ann@example.com"))).status_code == 200
        waiting = await bob.login(person(idp, "bob@example.com"), "/reports")
        assert refresh_url(waiting) == "/reports"
        assert_stays_on(site.url, waiting)
        # The path decodes to //evil.test/ (or \\evil.test/): a retry link or refresh
        # written back as it is would take the browser to evil.test.
        for path in ("/%2F%2Fevil.test/", "/%5C%5Cevil.test/", "/%2F/evil.test/"):
            for browser in (bob, site.browser()):  # waiting in line, and not signed in
                page = await browser.client.get(site.url + path)
                assert 400 <= page.status_code < 500, page.text
                assert_stays_on(site.url, page)
        assert not [call for call in site.upstream.calls if "evil" in call[1]]

    async def test_a_websocket_from_another_origin_never_reaches_the_app(
        self, site: ProxiedSite, idp: IdentityProvider
    ) -> None:
        ann = site.browser()
        assert (await ann.login(person(idp, "ann@example.com"))).status_code == 200
        headers = {"cookie": f"halo_session={ann.session_cookie}"}
        url = site.url.replace("http://", "ws://") + "/ws"
        # A page of another origin of the same site opens the socket with ann's cookie.
        for origin in ("http://sub.example.test", "null"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, origin=Origin(origin), additional_headers=headers):
                    pass
            # nginx then hands the handshake to the gateway as a page request; none is a socket.
            assert refused.value.response.status_code != 101, origin
        assert ("WEBSOCKET", "/ws") not in site.upstream.calls
        async with connect(url, origin=Origin(site.url), additional_headers=headers) as own:
            assert await own.recv() == "hello ann@example.com"
