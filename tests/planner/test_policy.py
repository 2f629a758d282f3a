"""What an idle policy costs: idled-out sessions replayed under another timeout or harvesting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from halo_gate.planner.fit import Fit
from halo_gate.planner.intervals import merge_sessions, sweep
from halo_gate.planner.optimise import OutOfTime
from halo_gate.planner.plan import plan_usage
from halo_gate.planner.policy import (
    NoEndReasons,
    Policy,
    PolicySaving,
    harvest_saving,
    policy_saving,
    under_policy,
)
from halo_gate.planner.usage import usage_from_records

from .support import HOUR, MONDAY, PROPERTY, Row, log_of, plan_json, records

MINUTE = 60
TIMEOUT = 1800


def test_an_idled_out_session_ends_at_its_last_activity_plus_the_policys_hold() -> None:
    nine = MONDAY + 9 * HOUR
    log = log_of(
        [
            ("idle", nine, nine + HOUR, "idle"),  # last activity 09:30
            ("gone", nine, nine + HOUR, "logout"),
            ("short", nine, nine + 20 * MINUTE, "idle"),  # idled out under a shorter timeout
        ]
    )
    ends = under_policy(log, Policy(harvest_idle=10 * MINUTE), TIMEOUT).end - nine
    assert ends.tolist() == [40 * MINUTE, HOUR, 10 * MINUTE]
    ends = under_policy(log, Policy(idle_timeout=HOUR), TIMEOUT).end - nine
    assert ends.tolist() == [90 * MINUTE, HOUR, HOUR]
    both = Policy(idle_timeout=20 * MINUTE, harvest_idle=15 * MINUTE)
    assert (under_policy(log, both, TIMEOUT).end - nine).tolist() == [
        45 * MINUTE,
        HOUR,
        15 * MINUTE,
    ]


def test_harvesting_says_what_it_would_have_saved() -> None:
    nine = MONDAY + 9 * HOUR
    rows = [
        ("ann", nine, nine + HOUR, "idle"),  # away from 09:30
        ("bob", nine + 40 * MINUTE, nine + 80 * MINUTE, "logout"),
    ]
    # At these prices nobody is named: the pool holds both from 09:40 to 10:00, but harvested
    # after ten minutes Ann's slot passes to Bob at 09:40.
    saving = harvest_saving(
        rows, harvest_idle=600, idle_timeout=TIMEOUT, price_named=1000, price_concurrent=140
    )
    assert (saving.slots_before, saving.slots_after, saving.idled_out) == (2, 1, 1)
    assert (
        saving.sentence()
        == "harvesting after 10 minutes would have needed 1 fewer slot (£1,680 a year)"
    )
    assert saving.sentence("CHF").endswith("(1,680 CHF a year)")
    longer = policy_saving(
        log_of(rows),
        Policy(idle_timeout=HOUR),
        recorded_idle_timeout=TIMEOUT,
        price_named=1000,
        price_concurrent=140,
    )
    assert longer.sentence("EUR") == (
        "an idle timeout of 60 minutes would have needed no fewer slots (€0 a year)"
    )
    assert longer.as_json()["fewer_slots"] == 0


def test_without_end_reasons_a_policy_cannot_be_replayed() -> None:
    log = usage_from_records([("ann", MONDAY, MONDAY + HOUR)])
    with pytest.raises(NoEndReasons, match="no end_reason column"):
        under_policy(log, Policy(harvest_idle=600), TIMEOUT)


@PROPERTY
@given(records())
def test_a_harvest_threshold_equal_to_the_idle_timeout_changes_nothing(rows: list[Row]) -> None:
    log = log_of(rows)
    for policy in (Policy(harvest_idle=TIMEOUT), Policy(idle_timeout=TIMEOUT)):
        replayed = under_policy(log, policy, TIMEOUT)
        assert np.array_equal(replayed.end, log.end)
        saving = policy_saving(
            log, policy, recorded_idle_timeout=TIMEOUT, price_named=70, price_concurrent=140
        )
        assert saving.fewer_slots == saving.fewer_named == 0 and saving.annual_saving == 0
        assert plan_json(replayed) == plan_json(log)


@PROPERTY
@given(records(), st.integers(min_value=1, max_value=TIMEOUT))
def test_harvesting_never_needs_a_larger_pool(rows: list[Row], threshold: int) -> None:
    log = log_of(rows)
    before = merge_sessions(log)
    after = merge_sessions(under_policy(log, Policy(harvest_idle=threshold), TIMEOUT))
    assert sweep(after.start, after.end).peak <= sweep(before.start, before.end).peak


def test_a_plans_optimum_is_weighed_against_without_searching_again() -> None:
    nine = MONDAY + 9 * HOUR
    # Three people share the pool's slot later; Ann idles beside Bob: name her, or harvest.
    later = [
        (f"c{n}", nine + (2 + n) * HOUR, nine + (2 + n) * HOUR + HOUR // 2, "logout")
        for n in range(3)
    ]
    log = log_of(
        [
            ("ann", nine, nine + HOUR, "idle"),
            ("bob", nine + 40 * MINUTE, nine + 80 * MINUTE, "logout"),
            *later,
        ]
    )
    plan = plan_usage(log, price_named=70, price_concurrent=140)
    assert plan.fitted is not None and plan.fitted.slots == plan.concurrent_slots

    def weighed(recorded: Fit | None) -> PolicySaving:
        return policy_saving(
            log,
            Policy(harvest_idle=600),
            recorded_idle_timeout=TIMEOUT,
            price_named=70,
            price_concurrent=140,
            recorded=recorded,
        )

    reused = weighed(plan.fitted)
    assert reused == weighed(None) and reused.exact
    assert (reused.needs(), reused.cost()) == (
        "no fewer slots and 1 fewer named seat",
        "£840 a year",
    )
    # A split the search stopped short of proving makes no exact saving.
    assert not weighed(
        replace(plan.fitted, split=replace(plan.fitted.split, lower_bound=70.0))
    ).exact
    # With a denial allowance the plan's pool is not the optimum's.
    assert plan_usage(log, price_named=70, price_concurrent=140, max_denial_rate=0.1).fitted is None


def test_a_policy_saving_stops_at_its_time_limit() -> None:
    nine = MONDAY + 9 * HOUR
    rows = [(f"p{n}", nine + n * MINUTE, nine + HOUR, "idle") for n in range(5)]
    with pytest.raises(OutOfTime):
        policy_saving(
            log_of(rows),
            Policy(harvest_idle=600),
            recorded_idle_timeout=TIMEOUT,
            price_named=70,
            price_concurrent=140,
            time_limit=0,
        )
