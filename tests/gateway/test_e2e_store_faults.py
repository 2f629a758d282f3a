"""A store that hangs: one timeout, then answers at once (the circuit breaker); a sign-in
whose admission timed out holds no slot once the store wakes up."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from halo_gate.cli.demo import IdentityProvider
from tests.conftest import drop_instance
from tests.resilience.proxy import StallingProxy, stalling_proxy

from .conftest import Browser, Site, person

pytestmark = pytest.mark.redis

TIMEOUT = 0.5  # the gateway's store timeout in these tests
COOLDOWN = 1.0
QUICK = 0.2  # an answer without the store comes well within this
TOKEN = "metrics-token-0123456789"


@pytest.fixture
def proxy() -> Iterator[StallingProxy]:
    with stalling_proxy() as started:
        yield started


async def stalled_site(site_factory: Any, proxy: StallingProxy, **overrides: Any) -> Site:
    site: Site = await site_factory(redis_url=proxy.url, **overrides)
    site.gate.core.guard.timeout = TIMEOUT
    site.gate.breaker.cooldown = COOLDOWN
    return site


async def timed(browser: Browser, path: str = "/") -> tuple[int, float]:
    started = time.monotonic()
    response = await browser.get(path)
    return response.status_code, time.monotonic() - started


async def test_a_hung_store_costs_one_timeout_then_requests_are_answered_at_once(
    site_factory: Any, idp: IdentityProvider, proxy: StallingProxy
) -> None:
    site = await stalled_site(
        site_factory, proxy, concurrent_seats=5, heartbeat_interval=60, metrics_token=TOKEN
    )
    try:
        browsers = [site.browser() for _ in range(5)]
        for number, browser in enumerate(browsers):
            signed_in = await browser.login(person(idp, f"hung-{number}@example.com"))
            assert signed_in.status_code == 200
        browser = browsers[0]
        proxy.stall()
        site.shift_clock(61)  # every request now needs a heartbeat

        status, first = await timed(browser)
        assert status == 503 and first >= TIMEOUT - 0.05
        answers = [await timed(browser) for _ in range(8)]
        assert all(status == 503 and took < QUICK for status, took in answers), answers
        assert site.gate.breaker.short_circuited == 8

        # After the cooldown one request probes the still hung store; the others (other
        # people's: one person's concurrent requests wait for no heartbeat anyway) do not wait.
        await asyncio.sleep(COOLDOWN)
        together = await asyncio.gather(*(timed(other) for other in browsers))
        slow = [took for status, took in together if took >= TIMEOUT - 0.05]
        assert all(status == 503 for status, _ in together)
        assert len(slow) == 1, together

        proxy.resume()
        await asyncio.sleep(COOLDOWN)
        status, _ = await timed(browser)
        assert status == 200
        assert not site.gate.breaker.is_open
        assert site.gate.breaker.trips == 1
        metrics = await browser.get("/_halo/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert re.search(r"^halo_gate_store_breaker_trips_total\{.*\} 1\.0$", metrics.text, re.M)
        assert re.search(
            r"^halo_gate_store_short_circuited_total\{.*\} 12\.0$", metrics.text, re.M
        ), metrics.text
    finally:
        await drop_instance(site.engine.store, site.gate.settings.instance)


async def test_requests_pass_at_once_under_allow_while_the_breaker_is_open(
    site_factory: Any, idp: IdentityProvider, proxy: StallingProxy
) -> None:
    site = await stalled_site(site_factory, proxy, on_store_error="allow", heartbeat_interval=60)
    try:
        browser = site.browser()
        assert (await browser.login(person(idp, "allow@example.com"))).status_code == 200
        proxy.stall()
        site.shift_clock(61)
        status, first = await timed(browser)
        assert status == 200 and first >= TIMEOUT - 0.05
        answers = [await timed(browser) for _ in range(5)]
        assert all(status == 200 and took < QUICK for status, took in answers), answers
        assert site.gate.decider.unverified_requests == 6
    finally:
        proxy.resume()
        await drop_instance(site.engine.store, site.gate.settings.instance)


async def test_a_sign_in_that_timed_out_holds_no_slot_once_the_store_wakes(
    site_factory: Any, idp: IdentityProvider, proxy: StallingProxy
) -> None:
    site = await stalled_site(site_factory, proxy, concurrent_seats=1)
    try:
        browser = site.browser()
        form = await browser.start_login()
        redirect = await browser.submit_idp_form(form, sub=person(idp, "gave-up@example.com"))
        # The store stalls just as the admission reaches it (the sign-in's state is spent first).
        proxy.stall_at(site.gate.engine._calls.library.operations["admit"].function.encode())
        refused = await browser.client.get(redirect.headers["location"])
        assert refused.status_code == 503
        assert browser.session_cookie is None
        # The admission is held in the stalled connection and runs when the store wakes up;
        # the gateway's release (in the background) runs too, in either order.
        proxy.resume()
        deadline = time.monotonic() + 10
        while site.gate.abandoned.released == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # any late admission has arrived by now
        assert (await site.engine.usage()).in_use == 0
        assert site.gate.abandoned.released == 1
        # The pool's only slot is free for the next person.
        await asyncio.sleep(COOLDOWN)
        other = site.browser()
        admitted = await other.login(person(idp, "next@example.com"))
        assert admitted.status_code == 200, admitted.text
    finally:
        await drop_instance(site.engine.store, site.gate.settings.instance)
