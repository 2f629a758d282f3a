"""``deploy/grafana/halo-gate.json`` and the alert rules read only metrics that
``/_halo/metrics`` exports, and the dashboard shows every one of them."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from starlette.applications import Starlette

from halo_gate import HaloGate
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import NO_IDP

from .conftest import (
    DASHBOARD,
    alerting_rules,
    dashboard,
    dashboard_expressions,
    dashboard_panels,
    metric_names,
)

TOKEN = "a-metrics-token-0123456789"
# Series Prometheus makes itself for every target, rather than scraping them.
PROMETHEUS_OWN = {"up"}


@pytest.fixture
async def exported() -> AsyncIterator[dict[str, set[str]]]:
    """The metrics of a gateway in this process, on the real Redis, with a department pool so
    that the per-group gauges have samples: each family's name and its samples' names."""
    instance = unique_instance()
    gate = HaloGate(
        Starlette(),
        **{name.lower(): value for name, value in NO_IDP.items()},
        redis_url=REDIS_URL,
        instance=instance,
        metrics_token=TOKEN,
        concurrent_seats=3,
        named_seats=1,
        pool_reserve="hr=1",
        pool_cap="hr=2",
    )
    await gate.ensure_configured()  # the pool rules, as at the first request's decision
    transport = httpx.ASGITransport(app=gate)
    async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
        answer = await client.get("/_halo/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    await gate.aclose()
    assert answer.status_code == 200, answer.text
    families: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(answer.text):
        families[family.name] = {sample.name for sample in family.samples}
    # prometheus-client adds a ``_created`` gauge beside a histogram: not a figure to chart.
    for name in [name for name in families if name.endswith("_created")]:
        if name.removesuffix("_created") in families:
            del families[name]
    assert all(families.values()), families
    yield families
    store = Redis.from_url(REDIS_URL)
    await drop_instance(store, instance)
    await store.aclose()


def test_metric_names_are_read_from_promql() -> None:
    expression = (
        'histogram_quantile(0.99, sum without (instance, worker) (rate(a_bucket{le!="+Inf",'
        ' job=~"x|y"}[5m] offset 1h))) > bool 0.1 and on (job) b_total @ 1700000000'
        " unless ignoring (reason) group_left (cause) c:recorded * 1e3 or absent(up)"
    )
    assert metric_names(expression) == {"a_bucket", "b_total", "c:recorded", "up"}


def test_rules_and_dashboard_read_only_exported_metrics(exported: dict[str, set[str]]) -> None:
    series = set().union(*exported.values())
    assert {"halo_gate_decision_seconds_bucket", "halo_gate_denials_total"} <= series
    for expression in [rule["expr"] for rule in alerting_rules()] + dashboard_expressions():
        names = metric_names(expression)
        assert names, expression
        assert names <= series | PROMETHEUS_OWN, (sorted(names - series), expression)


def test_every_exported_metric_has_a_panel(exported: dict[str, set[str]]) -> None:
    charted = set().union(*map(metric_names, dashboard_expressions()))
    for family, samples in exported.items():
        assert samples & charted, f"no panel shows {family}"


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    rules = [
        {"record": f"halo_gate:panel_query_{n}", "expr": expression}
        for n, expression in enumerate(dashboard_expressions())
    ]
    queries = tmp_path / "queries.yml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(queries)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_an_importable_grafana_model() -> None:
    model = dashboard()
    assert [entry["name"] for entry in model["__inputs"]] == ["DS_PROMETHEUS"]
    source = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    panels = dashboard_panels()
    ids = [panel["id"] for panel in model["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == source, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == source, panel["title"]
    assert "${DS_PROMETHEUS}" not in DASHBOARD.read_text().replace('"${DS_PROMETHEUS}"', "")
