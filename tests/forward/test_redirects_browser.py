"""Open redirects, checked in Chromium: behind Traefik and Caddy (which show the gateway's
refusal page as it is), a path that decodes to a host (``/%2F%2Fevil.test/``) must not give a
page whose refresh or links leave the site. Chromium itself resolves every address on the page
and follows its links; any request for another host is recorded and aborted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import Route

from halo_gate.cli.demo import IdentityProvider
from tests.admin.test_console import chromium
from tests.forward.contract import proxied_site
from tests.forward.proxies import Caddy, Proxy, Traefik, Upstream
from tests.gateway.conftest import person

__all__ = ["chromium"]

pytestmark = pytest.mark.slow

HOST_LIKE = ("/%2F%2Fevil.test/", "/%5C%5Cevil.test/", "/%2F/evil.test/x")
# Every address a page may send the browser to, resolved by Chromium's own URL parser.
PAGE_TARGETS = """() => {
  const found = [...document.querySelectorAll('a[href]')].map(a => a.href);
  found.push(...[...document.querySelectorAll('form[action]')].map(f => f.action));
  const refresh = document.querySelector('meta[http-equiv="refresh" i]');
  if (refresh) {
    const match = refresh.content.match(/url=(.*)$/i);
    found.push(new URL(match ? match[1] : '', location.href).href);
  }
  return found;
}"""


@pytest.mark.parametrize("proxy", [Caddy, Traefik], ids=["caddy", "traefik"])
async def test_refusal_pages_keep_the_browser_on_the_site(
    proxy: type[Proxy], idp: IdentityProvider, upstream: Upstream, chromium: Chromium
) -> None:
    async with proxied_site(proxy, idp, upstream) as site:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(site.url))
        holder, waiter = site.browser(), site.browser()
        assert (await holder.login(person(idp, "ann@example.com"))).status_code == 200
        waiting = await waiter.login(person(idp, "bob@example.com"), "/reports")
        assert "in line" in waiting.text
        context = await chromium.new_context()
        assert waiter.session_cookie is not None
        await context.add_cookies(
            [{"name": "halo_session", "value": waiter.session_cookie, "url": site.url}]
        )
        elsewhere: list[str] = []

        async def only_here(route: Route) -> None:
            if route.request.url.startswith(origin + "/"):
                await route.continue_()
            else:
                elsewhere.append(route.request.url)
                await route.abort()

        await context.route("**/*", only_here)
        page = await context.new_page()
        # A page for a path beside the host-like ones: its refresh reloads the path itself.
        for path in ("/reports/..%2F%2Fevil.test", *HOST_LIKE):
            answer = await page.goto(site.url + path)
            assert answer is not None and answer.status in (400, 403), path
            targets: Any = await page.evaluate(PAGE_TARGETS)
            assert targets, path
            for target in targets:
                assert target.startswith(origin + "/"), (path, target)
            for number in range(await page.locator("a[href]").count()):
                await page.goto(site.url + path)
                await page.locator("a[href]").nth(number).click()
                await page.wait_for_load_state()
                assert page.url.startswith(origin + "/"), (path, page.url)
        await context.close()
        assert elsewhere == []
