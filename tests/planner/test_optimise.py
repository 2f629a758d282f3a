"""The split is exact: equal to brute force over every subset, and better than ranking by hours."""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
import pytest

from halo_gate.planner import optimise
from halo_gate.planner.intervals import merge_sessions
from halo_gate.planner.optimise import optimal_split, pool_peak
from halo_gate.planner.plan import plan_usage
from halo_gate.planner.usage import UsageLog, usage_from_records

HOUR = 3600
# Random instances per brute-force test; raise it for a longer hunt (e.g. 500).
CASES = int(os.environ.get("HALO_GATE_PLANNER_CASES", "24"))


def brute_force(merged: UsageLog, price_named: float, price_concurrent: float) -> float:
    people = len(merged.people)
    best = float("inf")
    for size in range(people + 1):
        for subset in itertools.combinations(range(people), size):
            named = np.zeros(people, dtype=np.bool_)
            named[list(subset)] = True
            best = min(best, price_named * size + price_concurrent * pool_peak(merged, named))
    return best


def random_log(rng: random.Random, people: int, sessions_each: int) -> UsageLog:
    records = []
    for person in range(people):
        for _ in range(rng.randint(1, sessions_each)):
            start = rng.randint(0, 48) * HOUR // 2
            records.append((f"p{person}", start, start + rng.randint(1, 12) * HOUR // 2))
    return usage_from_records(records)


@pytest.mark.parametrize("seed", range(CASES))
def test_split_equals_brute_force_optimum(seed: int) -> None:
    rng = random.Random(seed)
    merged = merge_sessions(random_log(rng, people=12, sessions_each=rng.choice([1, 3, 5])))
    price_named = rng.choice([70, 50, 100])
    price_concurrent = rng.choice([140, 150, 175, 250, 60])
    split = optimal_split(merged, price_named, price_concurrent)
    named = np.zeros(len(merged.people), dtype=np.bool_)
    named[list(split.named)] = True
    # The split is what it claims to be, and nothing is cheaper.
    assert split.slots == pool_peak(merged, named)
    assert split.monthly_cost == price_named * len(split.named) + price_concurrent * split.slots
    assert split.monthly_cost == brute_force(merged, price_named, price_concurrent)


def test_plan_beats_naming_the_top_users_by_hours() -> None:
    # Four heavy night workers who never overlap share one slot; three light users who are all
    # online at the same moment are what the pool really pays for.
    records = [(f"night{n}", 86400 * n + 20 * HOUR, 86400 * n + 28 * HOUR) for n in range(4)]
    records += [(f"light{n}", 10 * HOUR, 10 * HOUR + 1800) for n in range(3)]
    merged = merge_sessions(usage_from_records(records))
    hours = np.bincount(merged.owner, weights=merged.end - merged.start)
    by_hours = np.argsort(-hours, kind="stable")
    heuristic = float("inf")
    for k in range(len(merged.people) + 1):
        named = np.zeros(len(merged.people), dtype=np.bool_)
        named[by_hours[:k]] = True
        heuristic = min(heuristic, 70 * k + 140 * pool_peak(merged, named))
    split = optimal_split(merged, 70, 140)
    # Ranking by hours names night workers first and never gets below a pool of 3 slots.
    assert heuristic == 420
    # The plan names two light users; the third and all night workers share one slot.
    assert split.monthly_cost == 280 == brute_force(merged, 70, 140)
    assert all(merged.people[p].startswith("light") for p in split.named)
    assert (len(split.named), split.slots) == (2, 1)


def test_overlapping_sessions_of_one_person_count_once() -> None:
    records = [("ann", 0, 10 * HOUR), ("ann", HOUR, 2 * HOUR), ("ann", 10 * HOUR, 11 * HOUR)]
    merged = merge_sessions(usage_from_records(records))
    assert len(merged) == 1
    assert (merged.start[0], merged.end[0]) == (0, 11 * HOUR)
    assert pool_peak(merged, np.zeros(1, dtype=np.bool_)) == 1
    # One seat is cheaper than one slot, and one seat is enough.
    assert optimal_split(merged, 70, 140).monthly_cost == 70


def test_no_named_seat_when_a_slot_costs_no_more_than_a_seat() -> None:
    merged = merge_sessions(random_log(random.Random(7), people=10, sessions_each=3))
    split = optimal_split(merged, 100, 100)
    assert split.named == ()
    assert split.proof == "prices"
    assert split.slots == pool_peak(merged, np.zeros(len(merged.people), dtype=np.bool_))


def test_whole_shift_users_are_named_when_they_overlap_the_peak() -> None:
    # Ten people online together all day, each costing a slot at twice a seat's price.
    records = [(f"agent{n}", 8 * HOUR, 16 * HOUR) for n in range(10)]
    split = optimal_split(merge_sessions(usage_from_records(records)), 70, 140)
    assert (len(split.named), split.slots, split.monthly_cost) == (10, 0, 700)


def test_empty_usage_needs_no_licence() -> None:
    split = optimal_split(merge_sessions(usage_from_records([])), 70, 140)
    assert (split.named, split.slots, split.monthly_cost) == ((), 0, 0)


def graph_log(rng: random.Random, people: int, density: float, crowd: int) -> UsageLog:
    """Each group of ``crowd`` people drawn at random shares an hour of its own: with several
    intervals per person the LP relaxation is fractional (odd cycles), so the search must
    branch."""
    records = []
    hour = 0
    for group in itertools.combinations(range(people), crowd):
        if rng.random() < density:
            records += [(f"p{person}", hour * HOUR, (hour + 1) * HOUR) for person in group]
            hour += 2
    return usage_from_records(records)


@pytest.mark.parametrize("seed", range(CASES // 2))
def test_split_equals_brute_force_when_the_relaxation_is_fractional(seed: int) -> None:
    rng = random.Random(1000 + seed)
    crowd = rng.choice([2, 3])
    merged = merge_sessions(graph_log(rng, 12, density=0.4 if crowd == 2 else 0.08, crowd=crowd))
    price_named, price_concurrent = rng.choice([(70, 140), (100, 250), (60, 170), (70, 200)])
    split = optimal_split(merged, price_named, price_concurrent)
    assert split.monthly_cost == brute_force(merged, price_named, price_concurrent)


@pytest.mark.parametrize("seed", range(CASES // 3))
def test_split_equals_brute_force_with_prices_in_fractions_of_a_penny(seed: int) -> None:
    # Without a whole-penny cost step the LP bound cannot be rounded up, so more instances
    # are settled by the branch-and-cut search.
    rng = random.Random(2000 + seed)
    merged = merge_sessions(graph_log(rng, 12, density=0.35, crowd=2))
    split = optimal_split(merged, 70.125, 150.3333)
    assert split.monthly_cost == pytest.approx(brute_force(merged, 70.125, 150.3333), abs=1e-9)


@pytest.mark.parametrize("seed", range(CASES))
def test_hints_and_a_tolerance_keep_the_split_honest(seed: int) -> None:
    rng = random.Random(1000 + seed)
    merged = merge_sessions(random_log(rng, people=12, sessions_each=rng.choice([1, 3, 5])))
    exact = optimal_split(merged, 70, 150)
    # Any instants as a hint (a shorter record's, or arbitrary ones) give the same optimum.
    shorter = merge_sessions(
        UsageLog(merged.people, merged.owner, merged.start, np.minimum(merged.end, 12 * HOUR))
    )
    hints = [
        optimal_split(shorter, 70, 150).instants,
        np.array(sorted(rng.sample(range(0, 30 * HOUR, 600), 10)), dtype=np.int64),
    ]
    for hint in hints:
        assert optimal_split(merged, 70, 150, hint=hint).monthly_cost == exact.monthly_cost
    # The programme's instants are where people were online.
    assert exact.instants.size == 0 or set(exact.instants.tolist()) <= set(merged.start.tolist())
    # A tolerance gives a real split costing at most that much more than the optimum.
    loose = optimal_split(merged, 70, 150, gap=0.2)
    named = np.zeros(len(merged.people), dtype=np.bool_)
    named[list(loose.named)] = True
    assert loose.slots == pool_peak(merged, named)
    assert exact.monthly_cost <= loose.monthly_cost <= 1.2 * exact.monthly_cost


class StoppingClock:
    """``time.monotonic`` for the optimiser: the time limit passes after ``calls`` readings."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def monotonic(self) -> float:
        self.calls -= 1
        return 0.0 if self.calls >= 0 else 1e9


def test_a_search_stopped_at_its_time_limit_keeps_a_real_split_and_a_true_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped = 0
    for seed in range(CASES):
        rng = random.Random(3000 + seed)
        merged = merge_sessions(graph_log(rng, 12, density=0.35, crowd=2))
        # Readings: the deadline, then the first relaxation; the next HiGHS call is too late.
        monkeypatch.setattr(optimise, "time", StoppingClock(2))
        split = optimal_split(merged, 70, 150, time_limit=10)
        named = np.zeros(len(merged.people), dtype=np.bool_)
        named[list(split.named)] = True
        assert split.slots == pool_peak(merged, named)
        assert split.monthly_cost == 70 * len(split.named) + 150 * split.slots
        optimum = brute_force(merged, 70, 150)
        if split.proof == "time_limit":
            stopped += 1
            assert split.lower_bound is not None
            assert split.lower_bound <= optimum <= split.monthly_cost
        else:
            assert split.lower_bound is None and split.monthly_cost == optimum
    assert stopped > 0  # some instances needed the search that the limit cut short


def test_a_time_limit_before_the_first_relaxation_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    merged = merge_sessions(graph_log(random.Random(3000), 12, density=0.35, crowd=2))
    monkeypatch.setattr(optimise, "time", StoppingClock(1))
    with pytest.raises(optimise.OutOfTime):
        optimal_split(merged, 70, 150, time_limit=10)


def test_a_plan_stopped_at_its_time_limit_says_how_far_from_the_optimum_it_may_be(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for seed in range(CASES):
        log = graph_log(random.Random(3000 + seed), 12, density=0.35, crowd=2)
        monkeypatch.setattr(optimise, "time", StoppingClock(2))
        plan = plan_usage(log, price_named=70, price_concurrent=150, time_limit=10).as_json()
        if plan["proof"] == "time_limit":
            break
    else:
        pytest.fail("no instance needed the search")
    optimum = 12 * brute_force(merge_sessions(log), 70, 150)
    assert plan["annual_cost_lower_bound"] <= optimum <= plan["annual_cost"]
    exact = plan_usage(log, price_named=70, price_concurrent=150).as_json()
    assert "annual_cost_lower_bound" not in exact and exact["annual_cost"] == optimum
