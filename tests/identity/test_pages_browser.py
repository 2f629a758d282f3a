"""The "Not signed in" page of a source that is not halo-gate's login, in Chromium: its "Try
again" reloads the page asked for, and never another host, whatever the path decodes to."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser as Chromium

from tests.admin.test_console import chromium
from tests.forward.test_redirects_browser import PAGE_TARGETS

__all__ = ["chromium"]

pytestmark = pytest.mark.slow


async def test_try_again_reloads_the_page_and_never_leaves_the_site(
    gateway: Any, chromium: Chromium
) -> None:
    site = gateway(identity="header", trusted_proxies="127.0.0.1/32", concurrent_seats=1)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(site.url))
    page = await chromium.new_page()
    answer = await page.goto(site.url + "/reports?year=2026")
    assert answer is not None and answer.status == 401
    assert "Not signed in" in await page.content()
    await page.get_by_role("link", name="Try again").click()
    await page.wait_for_load_state()
    assert page.url == site.url + "/reports?year=2026"
    for path in ("/%2F%2Fevil.test/", "/%5C%5Cevil.test/", "/x/..%2F%2Fevil.test"):
        answer = await page.goto(site.url + path)
        assert answer is not None and answer.status in (400, 401), path
        targets: Any = await page.evaluate(PAGE_TARGETS)
        assert targets and all(target.startswith(origin + "/") for target in targets), targets
    await page.close()
