"""An ended session is refused on its next request on every worker within a second, through
pub/sub; with the subscription cut, at its next heartbeat."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from halo_gate.admin import ended
from halo_gate.admin.ended import FIRST_BACKOFF, EndedListener
from halo_gate.cli.demo import IdentityProvider
from halo_gate.licensing import LicenceEngine, connect, options
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import Browser, Site, person, site_settings
from tests.resilience.proxy import stalling_proxy

JSON = {"accept": "application/json"}
DEADLINE = 1.0


async def two_workers(site_factory: Any, idp: IdentityProvider) -> tuple[Site, Site, Browser]:
    first = await site_factory(admins="root@example.com", concurrent_seats=3)
    second = await site_factory(**site_settings(first), admins="root@example.com")
    user = first.browser()
    assert (await user.login(person(idp, "pat@example.com"), "/whoami")).status_code == 200
    elsewhere = second.browser(**JSON)  # an API client: a refusal is a 401
    elsewhere.set_session_cookie(user.session_cookie or "")
    assert (await elsewhere.get("/whoami")).status_code == 200
    for site in (first, second):
        for _ in range(500):  # the listeners run on the servers' own event loops
            if site.gate.ended_listener.subscribed.is_set():
                break
            await asyncio.sleep(0.01)
        assert site.gate.ended_listener.subscribed.is_set()
    return first, second, elsewhere


async def refused_after(browser: Browser, started: float) -> float:
    """Seconds from ``started`` until ``browser``'s next request is refused (polling)."""
    while time.perf_counter() - started < 5:
        if (await browser.get("/whoami")).status_code == 401:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)
    raise AssertionError("the ended session was still let through after 5 s")


async def test_an_administrators_end_reaches_a_second_worker_within_a_second(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first, second, elsewhere = await two_workers(site_factory, idp)
    admin = first.browser()
    assert (await admin.login(person(idp, "root@example.com"))).status_code == 200
    listed = await admin.get("/_halo/api/sessions?search=pat", headers=JSON)
    (session,) = listed.json()["sessions"]
    viewer = second.browser()  # the same person's browser tab, on the second worker
    viewer.set_session_cookie(elsewhere.session_cookie or "")
    started = time.perf_counter()
    ended = await admin.client.delete(
        f"{first.url}/_halo/api/sessions/{session['session_id']}",
        headers={"origin": first.url, **JSON},
    )
    assert ended.status_code == 200
    elapsed = await refused_after(elsewhere, started)
    print(f"ended session refused on the second worker after {elapsed * 1000:.0f} ms")
    assert elapsed < DEADLINE
    page = await viewer.get("/")
    assert page.status_code == 401 and "An administrator ended your session" in page.text


async def test_logout_and_unassign_reach_other_workers_too(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first, second, elsewhere = await two_workers(site_factory, idp)
    me = (await elsewhere.get("/_halo/me")).json()
    started = time.perf_counter()
    assert await first.engine.release(me["user"], me["session_id"])
    assert await refused_after(elsewhere, started) < DEADLINE

    await first.engine.configure(concurrent_seats=0, named_seats=1, named_users=["nan@x.org"])
    nan = first.browser()
    assert (await nan.login(person(idp, "nan@x.org"), "/whoami")).status_code == 200
    on_second = second.browser(**JSON)
    on_second.set_session_cookie(nan.session_cookie or "")
    assert (await on_second.get("/whoami")).status_code == 200
    started = time.perf_counter()
    assert await first.engine.unassign("nan@x.org", by="root@example.com")
    assert await refused_after(on_second, started) < DEADLINE


async def test_with_the_subscription_cut_the_heartbeat_still_ends_it(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first, second, elsewhere = await two_workers(site_factory, idp)
    listener = second.gate.ended_listener
    assert listener._task is not None
    loop = listener._task.get_loop()
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(listener.stop(), loop))
    assert await first.engine.end_session("pat@example.com", by="root@example.com") == 1
    await asyncio.sleep(0.3)
    assert (await elsewhere.get("/whoami")).status_code == 200  # not heard of it yet
    second.shift_clock(second.gate.settings.heartbeat_interval)
    assert (await elsewhere.get("/whoami")).status_code == 401


async def test_a_lost_subscription_is_taken_up_again() -> None:
    instance = unique_instance()
    store = Redis.from_url(REDIS_URL)
    engine = LicenceEngine(store, instance=instance)
    heard: list[tuple[str, list[str]]] = []
    listener = EndedListener(engine, lambda reason, ids: heard.append((reason, ids)))
    listener.start()
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        killer = Redis.from_url(REDIS_URL)
        cut = listener.pubsub
        host, port = cut.connection._writer.get_extra_info("sockname")[:2]
        await killer.client_kill_filter(_type="pubsub", addr=f"{host}:{port}")
        for _ in range(500):
            if listener.pubsub is not cut and listener.subscribed.is_set():
                break
            await asyncio.sleep(0.01)
        assert listener.pubsub is not cut and listener.subscribed.is_set()
        await engine.announce_ended("admin", ["s-1", "s-2"])
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [("admin", ["s-1", "s-2"])]
        await killer.aclose()
    finally:
        await listener.stop()
        await drop_instance(store, instance)
        await store.aclose()


async def wait_heard(heard: list[Any], count: int, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if len(heard) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"heard {len(heard)} announcements, not {count}")


async def test_malformed_messages_are_counted_and_ignored_and_the_listener_lives_on() -> None:
    instance = unique_instance()
    store = Redis.from_url(REDIS_URL)
    engine = LicenceEngine(store, instance=instance)
    heard: list[tuple[str, list[str]]] = []
    listener = EndedListener(engine, lambda reason, ids: heard.append((reason, ids)))
    listener.start()
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        subscription = listener.pubsub
        channel = engine.keys.ended_channel
        for junk in (b"", b"   ", b"admin", b"\xff\xfe admin s-1"):
            await store.publish(channel, junk)
        await engine.announce_ended("admin", ["s-1", "s-2"])
        await wait_heard(heard, 1)
        assert heard == [("admin", ["s-1", "s-2"])]
        assert listener.malformed == 4
        assert listener.replaced == 0 and listener.pubsub is subscription
    finally:
        await listener.stop()
        await drop_instance(store, instance)
        await store.aclose()


async def test_a_silently_dropped_subscription_is_replaced_within_its_bound() -> None:
    """The proxy drops the subscription's packets without FIN or RST: the PING after
    ``check_every`` quiet seconds goes unanswered, and ``answer_within`` later a new
    subscription is up, so an administrator's end reaches the worker again."""
    instance = unique_instance()
    direct = LicenceEngine(Redis.from_url(REDIS_URL), instance=instance)
    await direct.configure(concurrent_seats=100, named_seats=0)
    check_every, answer_within = 0.5, 0.5
    bound = check_every + answer_within + FIRST_BACKOFF + 1.0  # and a reconnection
    with stalling_proxy() as proxy:
        through_proxy = Redis.from_url(proxy.url)
        engine = LicenceEngine(through_proxy, instance=instance)
        heard: list[tuple[str, list[str]]] = []
        listener = EndedListener(
            engine,
            lambda reason, ids: heard.append((reason, ids)),
            check_every=check_every,
            answer_within=answer_within,
        )
        listener.start()
        try:
            await asyncio.wait_for(listener.subscribed.wait(), 5)
            await direct.admit("pat@x.org", "s-0")
            await direct.end_session("pat@x.org", "s-0", by="root@x.org")
            await wait_heard(heard, 1)
            proxy.drop_existing()
            cut = time.perf_counter()
            number = 0
            while not heard[1:] and time.perf_counter() - cut < bound + 5:
                number += 1
                await direct.admit("pat@x.org", f"s-{number}")
                await direct.end_session("pat@x.org", f"s-{number}", by="root@x.org")
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - cut
            print(f"an administrator's end reached the worker again {elapsed:.2f} s after the cut")
            assert heard[1:], "no end reached the worker after the subscription was dropped"
            assert heard[1][0] == "admin"
            assert elapsed < bound
            assert listener.replaced == 1
        finally:
            await listener.stop()
            await through_proxy.aclose()
            await drop_instance(direct.store, instance)
            await direct.store.aclose()


async def test_a_quiet_channel_is_not_a_lost_subscription(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing announced for longer than the store's socket timeout.
    monkeypatch.setattr(options, "SOCKET_TIMEOUT", 0.5)
    monkeypatch.setattr(ended, "LISTEN_POLL", 0.2)
    instance = unique_instance()
    store = connect(REDIS_URL)
    engine = LicenceEngine(store, instance=instance)
    heard: list[tuple[str, list[str]]] = []
    listener = EndedListener(engine, lambda reason, ids: heard.append((reason, ids)))
    listener.start()
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        subscription = listener.pubsub
        with caplog.at_level(logging.WARNING, logger="halo_gate"):
            await asyncio.sleep(1.2)
        assert listener.pubsub is subscription
        assert "announcements lost" not in caplog.text
        await engine.announce_ended("admin", ["s-3"])
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.01)
        assert heard == [("admin", ["s-3"])]
    finally:
        await listener.stop()
        await drop_instance(store, instance)
        await store.aclose()
