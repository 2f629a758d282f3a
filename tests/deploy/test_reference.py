"""The metrics reference's "Alerts and dashboard" table (docs/reference/metrics.md) names every
alert, panel and charted metric."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import alerting_rules, dashboard_expressions, dashboard_panels, metric_names

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "metrics.md"


def test_the_reference_names_every_alert_panel_and_metric() -> None:
    text = PAGE.read_text()
    section = text[text.index("## Alerts and dashboard") :]
    for rule in alerting_rules():
        assert f"`{rule['alert']}`" in section, rule["alert"]
    for panel in dashboard_panels():
        assert panel["title"] in section, panel["title"]
    for name in set().union(*map(metric_names, dashboard_expressions())):
        family = re.sub(r"_(bucket|sum|count)$", "", name.removeprefix("halo_gate_"))
        assert f"`{family}`" in section, name
