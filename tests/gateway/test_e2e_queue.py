"""The waiting room end to end: a real IdP over HTTP, the gateway under uvicorn, the real Redis.

With a grace and an offer of 8 s, a waiter's page polls every 2 s; time is moved with
``Site.shift_clock`` rather than slept through."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urljoin

from starlette.types import Message

from halo_gate import HaloGate
from halo_gate.cli.demo import IdentityProvider

from .conftest import Server, make_app, person, site_settings

QUICK = {"queue_grace": 8, "queue_offer": 8}
JSON = {"accept": "application/json"}


def position(page: str) -> int:
    match = re.search(r'data-testid="position">(\d+)<', page)
    assert match, page
    return int(match.group(1))


async def test_a_waiter_is_signed_in_and_sent_to_their_page_which_reloads_without_the_idp(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, **QUICK)
    holder = site.browser()
    assert (await holder.login(person(idp, "holder@example.com"), "/whoami")).status_code == 200

    waiter = site.browser()
    page = await waiter.login(person(idp, "waiter@example.com"), "/reports?q=1")
    # Redirected from the callback to the page asked for, which is the waiting room.
    assert page.status_code == 503
    assert page.url.path == "/reports" and page.url.query == b"q=1"
    assert page.headers["retry-after"] == "2"
    assert position(page.text) == 1
    assert 'http-equiv="refresh" content="2; url=/reports?q=1"' in page.text
    assert "Leave the line" in page.text and "Estimated wait" in page.text
    assert waiter.session_cookie is not None

    # A reload is one store call: no redirect, no trip to the IdP.
    site.shift_clock(3)
    again = await waiter.get("/reports?q=1")
    assert (again.status_code, again.history, position(again.text)) == (503, [], 1)
    api = await waiter.get("/whoami", headers=JSON)
    assert api.status_code == 503
    body = api.json()
    assert body["error"] == "pool_full" and body["retry_after"] == 2
    assert (body["position"], body["ahead"], body["capacity"], body["in_use"]) == (1, 0, 1, 1)
    assert "estimated_wait" in body

    # The holder signs out: the waiter's next poll lets them in, without a click.
    await holder.logout()
    site.shift_clock(3)
    admitted = await waiter.get("/whoami", headers=JSON)
    assert admitted.status_code == 200
    assert admitted.json()["user"] == "waiter@example.com"
    usage = await site.engine.usage()
    assert (usage.in_use, usage.queue_length) == (1, 0)


async def test_leaving_the_line_signs_the_waiter_out(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, **QUICK)
    await site.browser().login(person(idp, "holder@example.com"))
    waiter = site.browser()
    page = await waiter.login(person(idp, "waiter@example.com"))
    assert (await site.engine.usage()).queue_length == 1
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert token
    # Another site cannot make the waiter leave.
    forged = await waiter.client.post(
        urljoin(site.url, "/_halo/logout"),
        data={"csrf_token": unescape(token.group(1))},
        headers={"origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    left = await waiter.client.post(
        urljoin(site.url, "/_halo/logout"),
        data={"csrf_token": unescape(token.group(1))},
        headers={"origin": site.url},
    )
    assert left.status_code == 303 and waiter.session_cookie is None
    assert (await site.engine.usage()).queue_length == 0


async def test_a_waiter_let_in_by_one_worker_is_let_in_by_every_other(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, **QUICK)
    holder = site.browser()
    await holder.login(person(idp, "holder@example.com"))
    waiter = site.browser()
    assert (await waiter.login(person(idp, "waiter@example.com"))).status_code == 503
    other_gate = HaloGate(make_app(), **site_settings(site))
    other = Server(other_gate)
    other.start()
    try:
        other_gate.engine.clock_offset = site.gate.engine.clock_offset
        # Both workers have just refused the waiter (and remember it).
        assert (await waiter.get("/whoami", headers=JSON)).status_code == 503
        assert (await waiter.client.get(other.url + "/whoami", headers=JSON)).status_code == 503
        await holder.logout()
        site.shift_clock(3)
        other_gate.engine.clock_offset = site.gate.engine.clock_offset
        assert (await waiter.client.get(other.url + "/whoami", headers=JSON)).status_code == 200
        # Back on the first worker at once, with the cookie the other one renewed.
        assert (await waiter.get("/whoami", headers=JSON)).status_code == 200
    finally:
        other.stop()


async def test_past_the_longest_line_the_sign_in_says_queue_full(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, queue_max=1, **QUICK)
    await site.browser().login(person(idp, "holder@example.com"))
    assert (await site.browser().login(person(idp, "w1@example.com"))).status_code == 503
    late = site.browser()
    refused = await late.login(person(idp, "w2@example.com"), "/", **JSON)
    assert refused.status_code == 503
    assert refused.json()["error"] == "queue_full"
    assert late.session_cookie is None


async def test_a_waiters_websocket_is_closed_with_try_again_later(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, **QUICK)
    await site.browser().login(person(idp, "holder@example.com"))
    waiter = site.browser()
    assert (await waiter.login(person(idp, "waiter@example.com"))).status_code == 503
    # Called as ASGI directly: uvicorn turns any close before accept into an HTTP 403.
    gate = HaloGate(make_app(), **site_settings(site))
    gate.engine.clock_offset = site.gate.engine.clock_offset
    cookie = f"halo_session={waiter.session_cookie}".encode()
    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie)],
        "scheme": "ws",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "subprotocols": [],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await gate(scope, receive, send)
    finally:
        await gate.aclose()
    assert sent == [{"type": "websocket.close", "code": 1013}]


async def test_the_queue_settings_reach_the_page_and_off_keeps_the_plain_refusal(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(concurrent_seats=1, queue="off")
    await site.browser().login(person(idp, "holder@example.com"))
    refused = await site.browser().login(person(idp, "late@example.com"), "/", **JSON)
    assert refused.status_code == 503
    assert "position" not in refused.json()
    assert (await site.engine.usage()).queue_length == 0
