"""``deploy/prometheus/halo-gate-rules.yml``: promtool accepts it, its unit tests pass, and
they would catch a rule that fires too early."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .conftest import RULE_TESTS, RULES, alerting_rules, rule_tests


def promtool_run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = promtool_run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules())} rules found" in result.stdout


def test_the_rules_pass_their_unit_tests(promtool: str) -> None:
    result = promtool_run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_unit_tests_catch_a_pool_alert_that_fires_too_early(
    promtool: str, tmp_path: Path
) -> None:
    rules = RULES.read_text()
    assert rules.count("for: 15m") == 1
    (tmp_path / RULES.name).write_text(rules.replace("for: 15m", "for: 5m"))
    shutil.copy(RULE_TESTS, tmp_path)
    result = promtool_run(promtool, "test", "rules", tmp_path / RULE_TESTS.name)
    assert result.returncode != 0
    assert "alertname: HaloGatePoolFull" in result.stdout + result.stderr


def test_every_alert_says_what_to_do() -> None:
    names = [rule["alert"] for rule in alerting_rules()]
    assert len(names) == len(set(names))
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"].split()) >= 15, rule["alert"]


def test_every_alert_is_tested_both_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for case in rule_tests():
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in alerting_rules()}
    assert firing == alerts
    assert silent == alerts
