"""The shipped Prometheus rules and Grafana dashboard, and the promtool that checks them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "halo-gate-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "halo-gate-rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "halo-gate.json"

# Grafana's variables, as a dashboard query is sent to Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": "halo-gate"}


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (scripts/test does).")
    return path


def alerting_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def rule_tests() -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    return tests


def dashboard() -> dict[str, Any]:
    model: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return model


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves left out."""
    found: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        found.extend(panel.get("panels", []))
        if panel["type"] != "row":
            found.append(panel)
    return found


def dashboard_expressions() -> list[str]:
    """Each panel's queries, with Grafana's variables filled in as Grafana sends them."""
    expressions = []
    for panel in dashboard_panels():
        for target in panel["targets"]:
            expression = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expression = expression.replace(variable, value)
            expressions.append(expression)
    return expressions


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MODIFIERS = re.compile(r"\b(?:offset\s+-?\w+|@\s*[\w.()]+)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[a-zA-Z_:][\w:]*(?!\s*\()(?![\w:])")
_KEYWORDS = {"and", "or", "unless", "bool", "inf", "nan"}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads: its identifiers less functions and
    aggregations (an identifier before "("), keywords, label names and durations."""
    bare = _STRINGS.sub(" ", expression)
    for pattern in (_MATCHERS, _RANGES, _GROUPING, _MODIFIERS):
        bare = pattern.sub(" ", bare)
    return {name for name in _IDENTIFIER.findall(bare) if name.lower() not in _KEYWORDS}
