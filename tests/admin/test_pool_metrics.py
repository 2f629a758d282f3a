"""``/_halo/metrics`` with department pools: per-group gauges and group_cap denials."""

from __future__ import annotations

from typing import Any

from halo_gate.cli.demo import IdentityProvider
from tests.gateway.conftest import person

from .test_metrics import TOKEN, samples, scrape


async def test_metrics_show_each_group_and_its_denials(
    site_factory: Any, idp: IdentityProvider
) -> None:
    site = await site_factory(
        concurrent_seats=5, pool_reserve="service-desk=2", pool_cap="hr=1", metrics_token=TOKEN
    )
    await site.browser().login(person(idp, "hr1@example.com", "hr"))
    refused = await site.browser().login(person(idp, "hr2@example.com", "hr"))
    assert refused.status_code == 503

    found = samples((await scrape(site.url)).text)
    expected = {
        ("halo_gate_group_reserved", (("group", "service-desk"),)): 2,
        ("halo_gate_group_reserved", (("group", "hr"),)): 0,
        ("halo_gate_group_cap", (("group", "hr"),)): 1,
        ("halo_gate_group_in_use", (("group", "hr"),)): 1,
        ("halo_gate_group_in_use", (("group", "service-desk"),)): 0,
        ("halo_gate_denials_total", (("reason", "group_cap"),)): 1,
        ("halo_gate_denials_total", (("reason", "pool_full"),)): 0,
    }
    for sample, value in expected.items():
        assert found[sample] == value, sample
    assert ("halo_gate_group_cap", (("group", "service-desk"),)) not in found  # no cap
