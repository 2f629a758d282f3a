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


async def test_the_line_is_listed_in_order_and_a_waiter_can_be_removed(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(
        concurrent_seats=2, admins="root@example.com", pool_cap="hr=1", queue_offer=60
    )
    root = site.browser()
    assert (await root.login(person(idp, "root@example.com"), "/whoami")).status_code == 200
    await site.browser().login(person(idp, "holder@example.com", "hr"))
    first, second = site.browser(), site.browser()
    assert (await first.login(person(idp, "first@example.com", "hr"))).status_code == 503
    site.shift_clock(5)
    assert (await second.login(person(idp, "second@example.com"))).status_code == 503

    line = (await root.get("/_halo/api/queue", headers=JSON)).json()
    assert line["length"] == 2 and line["groups"] == {"hr": 1}
    assert [(w["person"], w["position"], w["group"]) for w in line["waiting"]] == [
        ("first@example.com", 1, "hr"),
        ("second@example.com", 2, None),
    ]
    assert line["waiting"][1]["since"] - line["waiting"][0]["since"] >= 5
    assert all(w["offer_until"] is None for w in line["waiting"])
    assert (await root.get("/_halo/api/queue?limit=1&offset=1", headers=JSON)).json()["waiting"][0][
        "position"
    ] == 2

    headers = {"origin": site.url, **JSON}
    gone = await root.client.delete(
        site.url + "/_halo/api/queue/FIRST@example.com", headers=headers
    )
    assert gone.status_code == 200 and gone.json() == {
        "person": "first@example.com",
        "outcome": "removed",
    }
    line = (await root.get("/_halo/api/queue", headers=JSON)).json()
    assert [(w["person"], w["position"]) for w in line["waiting"]] == [("second@example.com", 1)]
    assert (await site.engine.usage()).queue_length == 1
    # The waiter's next poll asks them to sign in again, rather than queueing them at the back.
    site.shift_clock(10)
    assert (await first.get("/whoami", headers=JSON)).status_code == 401
    assert (await site.engine.usage()).queue_length == 1
    again = await root.client.delete(
        site.url + "/_halo/api/queue/first@example.com", headers=headers
    )
    assert again.status_code == 404
    events = (await root.get("/_halo/api/events?event=dequeued", headers=JSON)).json()["events"]
    assert events[0]["user"] == "first@example.com"
    assert events[0]["reason"] == "removed by root@example.com"
