"""Reading usage: CSV columns in any order, ISO 8601 times, and records from the console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from halo_gate.planner.plan import Current, plan_records
from halo_gate.planner.usage import UsageError, parse_time, read_usage, usage_from_records


def test_times_with_offsets_z_or_none_are_the_same_instant() -> None:
    moment = int(datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp())
    assert parse_time("2026-01-05T09:00:00Z") == moment
    assert parse_time("2026-01-05T09:00:00") == moment
    assert parse_time("2026-01-05T10:00:00+01:00") == moment
    assert parse_time(" 2026-01-05 09:00:00.750+00:00 ") == moment


def test_columns_are_found_by_name_and_extra_ones_ignored() -> None:
    log = read_usage(["End,Group,Person,Start\n", "2026-01-05T10:00Z,HR,Ann,2026-01-05T09:00Z\n"])
    assert log.people == ("ann",)
    assert int(log.end[0] - log.start[0]) == 3600


def test_records_with_an_end_before_the_start_are_refused() -> None:
    with pytest.raises(UsageError, match="Record 2"):
        usage_from_records([("a", 0, 10), ("b", 10, 5)])


def test_plan_records_takes_datetimes_from_the_console() -> None:
    monday = datetime(2026, 1, 5, 9, tzinfo=UTC)
    hour = timedelta(hours=1)
    records = [(f"agent{n}", monday, monday + 8 * hour) for n in range(3)]
    records += [("visitor", monday.replace(tzinfo=None) + hour, monday + 2 * hour)]
    other_zone = timezone(timedelta(hours=2))
    records += [("late", (monday + 20 * hour).astimezone(other_zone), monday + 21 * hour)]
    plan = plan_records(
        records, price_named=70, price_concurrent=140, current=Current(named=5, concurrent=0)
    )
    # Four people overlap at 10:00 (the naive time is UTC); "late" (20:00 UTC written in
    # another zone) is alone. Five seats, or three seats and one shared slot: 350 a month.
    assert plan.people == 5
    assert plan.annual_cost == 12 * 350 == plan.current_annual_cost
    assert len(plan.named) + 2 * plan.concurrent_slots == 5
    hours = [reason.hours_online for reason in plan.named]
    assert hours == sorted(hours, reverse=True) and hours[0] == 8
    # Both splits are optimal. Without a pool the busiest time is 10:00-11:00, all of it
    # agent0's; with one slot it is full 10:00-11:00 and 20:00-21:00, half of it agent0's.
    expected_share = 1.0 if plan.concurrent_slots == 0 else 0.5
    assert plan.named[0].days_active == 1 and plan.named[0].peak_share == expected_share


def test_an_end_reason_column_says_which_sessions_idled_out() -> None:
    log = read_usage(
        [
            "person,start,end,end_reason\n",
            "ann,2026-01-05T09:00Z,2026-01-05T10:00Z,idle\n",
            "bob,2026-01-05T09:00Z,2026-01-05T10:00Z,logout\n",
            "cy,2026-01-05T09:00Z,2026-01-05T10:00Z, IDLE \n",
            "dee,2026-01-05T09:00Z,2026-01-05T10:00Z,open\n",
        ]
    )
    assert log.idle is not None and log.idle.tolist() == [True, False, True, False]
    without = read_usage(["person,start,end\n", "ann,2026-01-05T09:00Z,2026-01-05T10:00Z\n"])
    assert without.idle is None


def test_records_may_carry_their_end_reason() -> None:
    with_reasons = usage_from_records([("a", 0, 10, "idle"), ("b", 0, 10, "harvested")])
    assert with_reasons.idle is not None and with_reasons.idle.tolist() == [True, False]
    # One record without a reason: the log cannot say how every session ended.
    assert usage_from_records([("a", 0, 10, "idle"), ("b", 0, 10)]).idle is None
