"""The recommendation is computed once per installation, in a bounded process of its own: a
run in progress answers "computing", its result is shared by every worker, and a run past its
bound answers why."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from halo_gate.admin.planner_run import MIB, Bounds
from halo_gate.admin.recommend import REUSE_MIN, Recommender, harvest_threshold
from halo_gate.config import Settings
from halo_gate.licensing import LicenceEngine
from halo_gate.licensing.records import now
from tests.conftest import REDIS_URL, drop_instance, unique_instance

FAKE = Path(__file__).with_name("fake_planner.py")
PRICED = {
    "secret_key": "a-test-signing-key-0123456789",
    "oidc_issuer": "http://127.0.0.1:9/issuer",
    "oidc_client_id": "client",
    "oidc_client_secret": "secret",
    "price_named": "100",
    "price_concurrent": "140",
}


def settings(**overrides: Any) -> Settings:
    return Settings.load({}, **{**PRICED, **overrides})


def fake(mode: str, folder: Path, **bounds: Any) -> Bounds:
    return Bounds(command=(sys.executable, str(FAKE), mode, str(folder)), **bounds)


def starts(folder: Path) -> list[int]:
    path = folder / "starts"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


async def record_four_hours(engine: LicenceEngine) -> None:
    """Four hours in which three people work together for ten minutes: 12 sessions, 12 people,
    never more than 3 at once."""
    await engine.configure(concurrent_seats=5, named_seats=0)
    for hour in range(4):
        people = [f"p{hour}{n}@x.org" for n in range(3)]
        for person in people:
            assert (await engine.admit(person, person)).admitted
        engine.clock_offset += 600
        for person in people:
            await engine.release(person, person)
        engine.clock_offset += 3000


async def test_a_slow_run_answers_computing_then_its_result(
    engine: LicenceEngine, tmp_path: Path
) -> None:
    await record_four_hours(engine)
    worker = Recommender(engine, settings(), bounds=fake("gated", tmp_path), wait=0)
    first = await worker.get()
    assert first["status"] == "computing"
    assert "being computed" in first["message"] and first["started_at"]
    assert worker.computing
    assert (await worker.get())["status"] == "computing"

    (tmp_path / "gate").touch()
    await worker.join()
    assert len(starts(tmp_path)) == 1  # asking again started nothing more
    done = await worker.get()
    assert done["status"] == "ok", done
    assert (done["sessions"], done["people"]) == (12, 12)
    assert done["plan"]["named"] == [] and done["plan"]["concurrent_slots"] == 3
    assert done["cost"]["named_only_annual"] == 12 * 12 * 100
    assert "annual_cost_lower_bound" not in done["plan"]  # proven optimal

    # Fresh for REUSE_MIN: served again without a run; then computed anew.
    engine.clock_offset += REUSE_MIN - 10
    assert (await worker.get())["computed_at"] == done["computed_at"]
    assert len(starts(tmp_path)) == 1
    engine.clock_offset += 20
    assert (await worker.get())["status"] == "computing"
    await worker.join()
    assert len(starts(tmp_path)) == 2


async def test_new_prices_or_seats_are_a_new_run(engine: LicenceEngine, tmp_path: Path) -> None:
    await record_four_hours(engine)
    (tmp_path / "gate").touch()
    bounds = fake("gated", tmp_path)
    first = Recommender(engine, settings(), bounds=bounds, wait=0)
    await first.get()
    await first.join()
    assert (await first.get())["plan"]["concurrent_slots"] == 3

    cheap = Recommender(engine, settings(price_named="30"), bounds=bounds, wait=0)
    assert (await cheap.get())["status"] == "computing"
    await cheap.join()
    assert len((await cheap.get())["plan"]["named"]) > 0
    await engine.resize(concurrent_seats=4)
    assert (await first.get())["status"] == "computing"
    await first.join()
    assert (await first.get())["plan"]["current"]["concurrent"] == 4
    assert len(starts(tmp_path)) == 3


@pytest.fixture
async def two_workers() -> AsyncIterator[tuple[LicenceEngine, LicenceEngine]]:
    instance = unique_instance()
    engines = tuple(LicenceEngine(Redis.from_url(REDIS_URL), instance=instance) for _ in "ab")
    yield engines[0], engines[1]
    await drop_instance(engines[0].store, instance)
    for engine in engines:
        await engine.store.aclose()


async def test_two_workers_compute_once_and_share_the_result(
    two_workers: tuple[LicenceEngine, LicenceEngine], tmp_path: Path
) -> None:
    one, other = two_workers
    await record_four_hours(one)
    other.clock_offset = one.clock_offset
    bounds = fake("gated", tmp_path)
    workers = [Recommender(engine, settings(), bounds=bounds, wait=0) for engine in two_workers]
    answers = [await worker.get() for worker in workers for _ in range(3)]
    assert {answer["status"] for answer in answers} == {"computing"}
    assert [worker.computing for worker in workers] == [True, False]

    (tmp_path / "gate").touch()
    for worker in workers:
        await worker.join()
    done = [await worker.get() for worker in workers]
    assert done[0]["status"] == "ok" and done[0] == done[1]
    assert len(starts(tmp_path)) == 1


async def test_a_run_past_its_time_bound_is_killed_and_says_why(
    engine: LicenceEngine, tmp_path: Path
) -> None:
    await record_four_hours(engine)
    worker = Recommender(engine, settings(), bounds=fake("gated", tmp_path, seconds=3), wait=0)
    assert (await worker.get())["status"] == "computing"
    await worker.join()
    failed = await worker.get()
    assert failed["status"] == "failed"
    assert failed["message"] == (
        "The planner did not finish on 12 sessions within its time bound of 3 s."
    )
    (pid,) = starts(tmp_path)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # The failure is kept like a result: asking again starts nothing until it is stale.
    assert (await worker.get())["status"] == "failed"
    assert len(starts(tmp_path)) == 1


async def test_a_run_past_its_memory_bound_says_why(engine: LicenceEngine, tmp_path: Path) -> None:
    await record_four_hours(engine)
    bounds = fake("hog", tmp_path, memory=1024 * MIB)
    worker = Recommender(engine, settings(), bounds=bounds, wait=0)
    await worker.get()
    await worker.join()
    failed = await worker.get()
    assert failed["status"] == "failed"
    assert failed["message"] == "The planner needed more than its memory bound of 1024 MiB."


async def test_the_planner_runs_bounded_idle_on_one_thread_without_secrets(
    engine: LicenceEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALO_GATE_SECRET_KEY", "not-for-the-planner")
    await record_four_hours(engine)
    bounds = fake("report", tmp_path, memory=3072 * MIB, seconds=100)
    worker = Recommender(engine, settings(), bounds=bounds, wait=0)
    await worker.get()
    await worker.join()
    assert (await worker.get())["status"] == "ok"
    assert json.loads((tmp_path / "bounds").read_text()) == {
        "address_space": 3072 * MIB,
        "cpu": 100,
        "idle": True,
        "environment": {
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        },
        "settings": [],
    }


async def test_a_worker_that_died_frees_the_lock_when_it_expires(
    engine: LicenceEngine, tmp_path: Path
) -> None:
    await record_four_hours(engine)
    (tmp_path / "gate").touch()
    # A lock left by a worker that died mid-run: it expires, and the next request computes.
    await engine.store.set(engine.keys.recommendation_lock, "0 gone", px=200)
    worker = Recommender(engine, settings(), bounds=fake("gated", tmp_path), wait=0)
    assert (await worker.get())["status"] == "computing"
    assert not worker.computing  # another worker's, as far as anyone can tell
    await engine.store.pexpire(engine.keys.recommendation_lock, 1)
    while await engine.store.exists(engine.keys.recommendation_lock):
        pass
    assert (await worker.get())["status"] == "computing"
    await worker.join()
    assert (await worker.get())["status"] == "ok"
    assert len(starts(tmp_path)) == 1


async def test_small_records_are_planned_within_the_request(engine: LicenceEngine) -> None:
    await record_four_hours(engine)
    answer = await Recommender(engine, settings(), wait=60).get()
    assert answer["status"] == "ok" and answer["plan"]["concurrent_slots"] == 3
    assert answer["days_recorded"] == 0.2


async def test_an_entry_with_a_line_break_is_left_out_not_misread(engine: LicenceEngine) -> None:
    await record_four_hours(engine)
    day = int(await now(engine)) // 86400
    await engine.store.rpush(engine.keys.record(day), f"{day * 86400} 600 lcodd\nname@x.org")
    answer = await Recommender(engine, settings(), wait=60).get()
    assert answer["status"] == "ok", answer
    assert (answer["sessions"], answer["people"]) == (12, 12)


async def record_idlers(engine: LicenceEngine) -> None:
    """Five hours in each of which one person signs in and goes idle at once, idling out after
    the idle timeout (1800 s), while another works from the 15th to the 20th minute: 10
    sessions, never more than 2 at once, but never more than 1 past ten minutes idle."""
    await engine.configure(concurrent_seats=5, named_seats=0)
    for hour in range(5):
        idler, worker = f"idle{hour}@x.org", f"busy{hour}@x.org"
        assert (await engine.admit(idler, idler)).admitted
        engine.clock_offset += 900
        assert (await engine.admit(worker, worker)).admitted
        engine.clock_offset += 300
        await engine.release(worker, worker)
        engine.clock_offset += 2400
    await engine.usage()  # the last idler is found idled out


async def test_the_answer_says_what_harvesting_would_have_saved(engine: LicenceEngine) -> None:
    await record_idlers(engine)
    answer = await Recommender(engine, settings(), wait=60).get()
    assert answer["status"] == "ok", answer
    assert (answer["sessions"], answer["plan"]["concurrent_slots"]) == (10, 2)
    harvesting = answer["harvesting"]
    assert harvesting["sentence"] == (
        "harvesting after 10 minutes would have needed 1 fewer slot (£1,680 a year)"
    )
    assert (
        harvesting.items()
        >= {
            "harvest_idle": 600,
            "enabled": False,
            "recorded_idle_timeout": 1800,
            "sessions_idled_out": 5,
            "in_force": {"named": 0, "concurrent_slots": 2},
            "under_policy": {"named": 0, "concurrent_slots": 1},
            "fewer_slots": 1,
            "annual_saving": 1680,
        }.items()
    )


async def test_with_harvesting_on_the_answer_weighs_the_installations_threshold(
    engine: LicenceEngine,
) -> None:
    await record_idlers(engine)
    on = settings(harvest_idle="900", currency="EUR")
    harvesting = (await Recommender(engine, on, wait=60).get())["harvesting"]
    assert (harvesting["harvest_idle"], harvesting["enabled"]) == (900, True)
    assert harvesting["sentence"] == (
        "harvesting after 15 minutes is on: with it, the sessions recorded needed 1 fewer slot "
        "than the split above, which counts an idle slot as held until the idle timeout "
        "(€1,680 a year)"
    )


async def test_no_threshold_below_the_idle_timeout_weighs_nothing(engine: LicenceEngine) -> None:
    await record_idlers(engine)
    short = settings(idle_timeout="600")
    assert harvest_threshold(short) is None
    answer = await Recommender(engine, short, wait=60).get()
    assert answer["status"] == "ok" and "harvesting" not in answer
