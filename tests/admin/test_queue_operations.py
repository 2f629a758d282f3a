"""The waiting line as administrators see it: the usage API, the metrics and the console."""

from __future__ import annotations

from typing import Any

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import person

from .test_metrics import TOKEN, samples, scrape

JSON = {"accept": "application/json"}


async def test_usage_metrics_and_console_show_the_line(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=2, admins="root@example.com", metrics_token=TOKEN)
    root = site.browser()
    assert (await root.login(person(idp, "root@example.com"), "/whoami")).status_code == 200
    await site.browser().login(person(idp, "holder@example.com"))
    waiter = site.browser()
    assert (await waiter.login(person(idp, "waiter@example.com"))).status_code == 503
    site.shift_clock(30)
    assert (await waiter.get("/whoami", headers=JSON)).json()["position"] == 1

    usage = (await root.get("/_halo/api/usage", headers=JSON)).json()
    assert usage["queue"]["length"] == 1
    assert 30 <= usage["queue"]["longest_wait"] <= 32
    figures = samples((await scrape(site.url)).text)
    assert figures[("halo_gate_queue_length", ())] == 1
    assert 30 <= figures[("halo_gate_queue_longest_wait_seconds", ())] <= 32
    console = await root.get("/_halo/admin")
    assert 'id="c-queue"' in console.text and "Waiting in line" in console.text
