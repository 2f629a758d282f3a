"""``/_halo/metrics`` read with prometheus-client's own parser: values match what was done and
both workers of one installation answer the same."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import person, site_settings

TOKEN = "a-metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(url: str, token: str = TOKEN) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(
            url + "/_halo/metrics", headers={"authorization": f"Bearer {token}"}
        )


async def test_metrics_count_what_happened_identically_on_two_workers(
    site_factory: Any, idp: IdentityProvider
) -> None:
    first = await site_factory(
        concurrent_seats=2, named_seats=1, named_users="nan@example.com", metrics_token=TOKEN
    )
    second = await site_factory(**site_settings(first), metrics_token=TOKEN)
    await first.browser().login(person(idp, "nan@example.com"))
    bob = first.browser()
    await bob.login(person(idp, "bob@example.com"))
    await second.browser().login(person(idp, "cat@example.com"))
    refused = await second.browser().login(person(idp, "dan@example.com"))
    assert refused.status_code == 503
    await bob.logout()
    await first.engine.end_session("cat@example.com", by="root@example.com")

    texts = [(await scrape(site.url)).text for site in (first, second)]
    one, two = (samples(text) for text in texts)
    expected = {
        ("halo_gate_concurrent_seats", ()): 2,
        ("halo_gate_concurrent_in_use", ()): 0,
        ("halo_gate_named_seats", ()): 1,
        ("halo_gate_named_assigned", ()): 1,
        ("halo_gate_named_active", ()): 1,
        ("halo_gate_named_quarantined", ()): 0,
        ("halo_gate_admissions_total", (("licence", "named"),)): 1,
        ("halo_gate_admissions_total", (("licence", "concurrent"),)): 2,
        ("halo_gate_denials_total", (("reason", "pool_full"),)): 1,
        ("halo_gate_denials_total", (("reason", "no_licence"),)): 0,
        ("halo_gate_releases_total", (("cause", "logout"),)): 1,
        ("halo_gate_releases_total", (("cause", "admin"),)): 1,
        ("halo_gate_releases_total", (("cause", "idle"),)): 0,
    }
    for sample, value in expected.items():
        assert one[sample] == value, sample
    shared = {k: v for k, v in one.items() if "worker" not in dict(k[1])}
    assert shared == {k: v for k, v in two.items() if "worker" not in dict(k[1])}
    workers = {dict(k[1])["worker"] for k in one if "worker" in dict(k[1])}
    assert len(workers) == 1
    (worker,) = workers
    assert one[("halo_gate_store_errors_total", (("worker", worker),))] == 0
    assert one[("halo_gate_ended_announcements_malformed_total", (("worker", worker),))] == 0
    assert one[("halo_gate_ended_subscriptions_replaced_total", (("worker", worker),))] == 0
    assert one[("halo_gate_decision_seconds_count", (("worker", worker),))] >= 3


async def test_metrics_need_the_token_or_an_administrator(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(metrics_token=TOKEN, admins="root@example.com")
    assert (await scrape(site.url)).status_code == 200
    assert (await scrape(site.url, "wrong")).status_code == 401
    async with httpx.AsyncClient() as client:
        anonymous = await client.get(site.url + "/_halo/metrics")
    assert anonymous.status_code == 401
    other = site.browser()
    await other.login(person(idp, "other@example.com"))
    assert (await other.get("/_halo/metrics")).status_code == 403
    root = site.browser()
    await root.login(person(idp, "root@example.com"))
    page = await root.get("/_halo/metrics")
    assert page.status_code == 200 and "halo_gate_concurrent_seats" in page.text


async def test_each_metric_is_exported_once(site_factory: Any) -> None:
    site = await site_factory(metrics_token=TOKEN)
    text = (await scrape(site.url)).text
    families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert sorted(families) == sorted(set(families))
