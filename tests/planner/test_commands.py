"""The planner's commands through ``halo_gate.cli.main``: output, JSON, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from halo_gate.cli import main

GUIDE_COST = [
    "cost", "--named", "150", "--price-named", "70", "--concurrent", "100",
    "--price-concurrent", "140", "--named-only", "500", "--price-named-only", "100",
]  # fmt: skip


def test_cost_prints_the_guides_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(GUIDE_COST) == 0
    out = capsys.readouterr().out
    assert "126,000 + 168,000 = 294,000 GBP a year against 600,000 named-only" in out
    assert "306,000 saved (51 %)" in out
    for row in ("named ", "concurrent ", "total ", "named only ", "saving "):
        assert row in out


def test_cost_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*GUIDE_COST, "--json", "--currency", "EUR"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "named_annual": 126000,
        "concurrent_annual": 168000,
        "total_annual": 294000,
        "named_only_annual": 600000,
        "saving": 306000,
        "saving_pct": 51.0,
        "currency": "EUR",
    }


def write(tmp_path: Path, text: str, name: str = "usage.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def plan(path: str, *extra: str) -> list[str]:
    return ["plan", path, "--price-named", "70", "--price-concurrent", "140", *extra]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("person,start\nann,2026-01-05T09:00:00Z\n", 1, "no end column"),
        ("who,when,until\n", 1, "no person, start, end column"),
        (
            "person,start,end\nann,2026-01-05T09:00Z,2026-01-05T10:00Z\n"
            "bob,2026-01-05T11:00Z,2026-01-05T10:00Z\n",
            3,
            "before it starts",
        ),
        ("person,start,end\nann,yesterday,2026-01-05T10:00Z\n", 2, "not an ISO 8601 time"),
        ("person,start,end\nann,2026-01-05T09:00Z,soon\n", 2, "not an ISO 8601 time"),
        ("person,start,end\nann,2026-01-05T09:00Z\n", 2, "fields"),
        ("", 1, "empty"),
    ],
)
def test_bad_usage_is_one_sentence_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, words: str
) -> None:
    assert main(plan(write(tmp_path, text))) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    message = captured.err.strip()
    assert f"Line {line} of " in message and words in message
    assert "\n" not in message and "Traceback" not in message


def test_a_binary_file_is_not_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "usage.csv"
    path.write_bytes(b"person,start,end\n\x89PNG\r\n\x1a\n\xff\xfe")
    assert main(plan(str(path))) == 2
    message = capsys.readouterr().err.strip()
    assert "Line 2 of" in message and "not CSV" in message and "\n" not in message


def test_a_missing_file_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(plan(str(tmp_path / "absent.csv"))) == 2
    assert "Cannot read" in capsys.readouterr().err


def test_plan_reads_any_csv_with_person_start_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "session,end,person,start,notes\n"
        "1,2026-01-05T17:00:00+00:00,ANN@example.org,2026-01-05T09:00:00,desk\n"
        "2,2026-01-05T12:00:00Z,ann@example.org,2026-01-05T10:00:00Z,second tab\n"
        "3,2026-01-05T10:30:00Z,bob@example.org,2026-01-05T10:00:00Z,portal\n"
    )
    chart = tmp_path / "profile.svg"
    args = plan(write(tmp_path, text), "--price-named-only", "100", "--chart", str(chart))
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # Ann (any case, naive time = UTC) is one person; two seats beat a pool of two.
    assert data["people"] == 2 and data["sessions"] == 3
    assert data["named"] == ["ann@example.org", "bob@example.org"]
    assert data["concurrent_slots"] == 0
    assert data["annual_cost"] == 12 * 2 * 70
    assert data["named_only_annual_cost"] == 12 * 2 * 100
    assert data["saving"] == 2400 - 1680
    assert data["reasons"][0] == {
        "person": "ann@example.org",
        "hours_online": 8.0,
        "days_active": 1,
        "peak_share": 1.0,
    }
    ElementTree.fromstring(chart.read_text(encoding="utf-8"))  # well-formed SVG


def test_plan_report_compares_with_the_current_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"agent{n},2026-01-05T08:00:00Z,2026-01-05T16:00:00Z" for n in range(5)]
    rows += [f"hr{n},2026-01-05T{9 + n:02d}:00:00Z,2026-01-05T{9 + n:02d}:30:00Z" for n in range(6)]
    path = write(tmp_path, "person,start,end\n" + "\n".join(rows) + "\n")
    assert main(plan(path, "--current-named", "11", "--current-concurrent", "0")) == 0
    out = capsys.readouterr().out
    assert "Plan: 5 named seats and a pool of 1 concurrent slots." in out
    assert "Current (11 named, 0 concurrent): 9,240 GBP a year; the plan saves 3,360" in out
    assert "agent0" in out and "hr0" not in out.split("Named person")[1]
    assert (tmp_path / "usage.svg").exists()


def test_max_denial_rate_shrinks_the_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ten occasional users at 10:00 on one day, one at a time on nine other days.
    rows = [f"u{n},2026-01-05T10:00:00Z,2026-01-05T10:20:00Z" for n in range(10)]
    rows += [f"u{n},2026-01-{6 + n:02d}T10:00:00Z,2026-01-{6 + n:02d}T10:20:00Z" for n in range(9)]
    path = write(tmp_path, "person,start,end\n" + "\n".join(rows) + "\n")
    args = plan(path, "--price-named", "100", "--price-concurrent", "100", "--json")
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["concurrent_slots"] == 10
    assert main([*args, "--max-denial-rate", "0.25"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 19 logins; a pool of 6 refuses 4 (21 %), a pool of 5 refuses 5 (26 %).
    assert data["concurrent_slots"] == 6
    assert data["denial_rate"] == pytest.approx(4 / 19, abs=1e-6)


def test_simulate_guide_plan_beats_the_guides_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = tmp_path / "guide.csv"
    assert (
        main(
            ["simulate", "--profile", "guide", "--seed", "7", "--days", "7", "--output", str(usage)]
        )
        == 0
    )
    assert main([*plan(str(usage), "--price-named-only", "100"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # A self-service user or two may not sign in within a week.
    assert 490 <= data["people"] <= 500
    assert data["annual_cost"] <= 294_000
    assert data["saving_pct"] >= 50
    assert 600_000 - data["annual_cost"] >= 0.5 * 600_000


def test_bad_profile_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = write(tmp_path, '[[groups]]\nname = "HR"\npeople = "many"\n', "org.toml")
    assert main(["simulate", "--profile", profile]) == 2
    message = capsys.readouterr().err.strip()
    assert "'HR'" in message and "'people'" in message and "\n" not in message


def test_chart_must_be_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "person,start,end\nann,2026-01-05T09:00Z,2026-01-05T10:00Z\n")
    assert main(plan(path, "--chart", str(tmp_path / "chart.png"))) == 2
    assert ".svg" in capsys.readouterr().err
    assert not (tmp_path / "chart.png").exists()


def test_simulate_writes_csv_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--days", "1", "--scale", "0.1", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "person,group,start,end,end_reason"
    person, group, start, end, reason = lines[1].split(",")
    assert reason in ("idle", "logout")
    assert person.endswith("@example.org") and start.endswith("Z") and end > start


@pytest.fixture(scope="module")
def three_weeks(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The guide's organisation over three weeks, with end reasons."""
    path = tmp_path_factory.mktemp("guide") / "guide.csv"
    args = ["simulate", "--profile", "guide", "--seed", "7", "--days", "21"]
    assert main([*args, "--output", str(path)]) == 0
    return str(path)


def test_validate_says_how_often_people_would_have_been_refused(
    three_weeks: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "held.svg"
    assert main([*plan(three_weeks), "--validate", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "Will the plan hold? Held out one week at a time" in out
    assert "of logins would have been refused on average" in out
    assert "would have met a full pool at least once" in out
    rows = [line for line in out.splitlines() if line.startswith("  2026-01-")]
    assert [row.split()[0] for row in rows] == ["2026-01-12", "2026-01-19"]
    svg = chart.read_text(encoding="utf-8")
    ElementTree.fromstring(svg)
    assert "held out" in svg and "weeks held out" in svg


def test_validate_as_json_has_the_folds_and_their_summary(
    three_weeks: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*plan(three_weeks), "--validate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    validation = data["validation"]
    assert validation["fold_days"] == 7 and len(validation["folds"]) == 2
    fold = validation["folds"][1]
    assert (fold["train_start"][:10], fold["train_end"], fold["test_end"]) == (
        "2026-01-04",  # a night shift's sliver before the first Monday still trains it
        "2026-01-19T00:00:00Z",
        "2026-01-26T00:00:00Z",
    )
    for key in ("denial_rate", "full_minutes", "people_refused"):
        assert isinstance(fold[key], int | float)
    summary = validation["summary"]
    rates = [f["denial_rate"] for f in validation["folds"]]
    assert summary["mean"]["denial_rate"] == pytest.approx(sum(rates) / 2, abs=1e-6)
    assert summary["worst"]["denial_rate"] == max(rates)
    assert "target" not in data
    # Five-day windows: four whole ones in 21 days, three of them held out.
    assert main([*plan(three_weeks), "--validate", "--fold-days", "5", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["validation"]["folds"]) == 3


def test_target_denial_rate_prices_the_headroom(
    three_weeks: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*plan(three_weeks), "--target-denial-rate", "0.001", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    target = data["target"]
    assert target["over"] == "every_fold" and data["concurrent_slots"] == target["concurrent_slots"]
    assert all(fold["denial_rate"] <= 0.001 for fold in data["validation"]["folds"])
    assert target["headroom_annual_cost"] == 12 * 140 * target["headroom_slots"]
    assert main([*plan(three_weeks), "--target-denial-rate", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "Target: at most 0.1 % of logins refused in every held-out week." in out
    assert "the in-sample optimum made without it" in out


def test_harvesting_and_growth_say_what_they_cost(
    three_weeks: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*plan(three_weeks), "--harvest-idle", "600"]) == 0
    out = capsys.readouterr().out
    assert "Idle policy: Harvesting after 10 minutes would have needed" in out
    assert main([*plan(three_weeks), "--harvest-idle", "600", "--json"]) == 0
    policy = json.loads(capsys.readouterr().out)["policy"]
    assert policy["harvest_idle"] == 600 and policy["recorded_idle_timeout"] == 1800
    assert policy["sentence"].startswith("harvesting after 10 minutes would have needed")
    assert main([*plan(three_weeks), "--growth", "20", "--seed", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["growth"]["people_added"] == round(0.2 * data["growth"]["people_today"])
    assert data["people"] == data["growth"]["people_today"] + data["growth"]["people_added"]
    assert (
        data["annual_cost"]
        == data["growth"]["today"]["annual_cost"] + (data["growth"]["extra_annual_cost"])
    )
    assert data["growth"]["extra_annual_cost"] > 0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--fold-days", "5"], "--fold-days and --folds go with --validate"),
        (["--target-mean"], "--target-mean goes with --target-denial-rate"),
        (["--target-denial-rate", "0.01", "--max-denial-rate", "0.01"], "give one"),
        (["--validate", "--growth", "10"], "--growth cannot be held out"),
    ],
)
def test_options_that_do_not_go_together_are_one_sentence(
    three_weeks: str, capsys: pytest.CaptureFixture[str], extra: list[str], words: str
) -> None:
    assert main([*plan(three_weeks), *extra]) == 2
    message = capsys.readouterr().err.strip()
    assert words in message and "\n" not in message


def test_a_short_or_reasonless_record_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "person,start,end\nann,2026-01-05T09:00Z,2026-01-05T10:00Z\n")
    assert main([*plan(path), "--validate"]) == 2
    assert "needs two whole windows of 7 days; the record covers 1" in capsys.readouterr().err
    assert main([*plan(path), "--harvest-idle", "600"]) == 2
    assert "no end_reason column" in capsys.readouterr().err
    monkeypatch.setenv("HALO_GATE_IDLE_TIMEOUT", "soon")
    assert main([*plan(path), "--harvest-idle", "600"]) == 2
    assert "HALO_GATE_IDLE_TIMEOUT has value 'soon'" in capsys.readouterr().err
