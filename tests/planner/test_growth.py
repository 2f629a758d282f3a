"""An organisation P % larger: recorded people's weeks resampled under new identities."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from halo_gate.planner.growth import WEEK, grow
from halo_gate.planner.intervals import merge_sessions, sweep
from halo_gate.planner.usage import UsageLog

from .support import DAY, HOUR, MONDAY, PROPERTY, Row, log_of, plan_json, records


def weekly(person: str, weeks: int, hour: int) -> list[Row]:
    """Monday ``hour`` to ``hour + 2`` every week, and a Thursday in the first week only."""
    rows = []
    for week in range(weeks):
        start = MONDAY + week * WEEK + hour * HOUR
        rows.append((person, start, start + 2 * HOUR, "logout"))
    thursday = MONDAY + 3 * DAY + hour * HOUR
    rows.append((person, thursday, thursday + HOUR, "idle"))
    return sorted(rows, key=lambda row: row[1])


@PROPERTY
@given(records(days=14), st.integers(0, 2**32 - 1))
def test_growth_of_nothing_is_the_plan_itself(rows: list[Row], seed: int) -> None:
    log = log_of(rows)
    grown = grow(log, 0, seed)
    assert grown.people == log.people and np.array_equal(grown.end, log.end)
    assert plan_json(grown) == plan_json(log)


@PROPERTY
@given(records(days=14), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_new_people_live_recorded_weeks_at_their_own_hours(
    rows: list[Row], percent: int, seed: int
) -> None:
    log = log_of(rows)
    grown = grow(log, percent, seed)
    added = round(len(log.people) * percent / 100)
    assert len(grown.people) == len(log.people) + added
    assert len(set(grown.people)) == len(grown.people)
    # The same seed, the same organisation.
    again = grow(log, percent, seed)
    assert again.people == grown.people and np.array_equal(again.start, grown.start)
    # Every new session is a recorded one moved by whole weeks, with its end reason.
    recorded = {(int(s) % WEEK, int(e - s)) for s, e in zip(log.start, log.end, strict=True)}
    new = grown.owner >= len(log.people)
    for start, end in zip(grown.start[new], grown.end[new], strict=True):
        assert (int(start) % WEEK, int(end - start)) in recorded
    assert grown.idle is not None and grown.idle.size == grown.start.size


def test_a_copy_never_lives_its_templates_own_week() -> None:
    # One person, the same Monday every week: each copy's week comes from another week, which
    # is the same hours, so the copy is online with the template and the peak doubles, but
    # the Thursday of the first week can land in the first week only as a copy of another's.
    log = log_of(weekly("ann", 4, 9))
    grown = grow(log, 100, seed=7)
    merged = merge_sessions(grown)
    assert sweep(merged.start, merged.end).peak == 2
    copy = grown.owner == 1
    thursdays = grown.start[copy][(grown.start[copy] - MONDAY) % WEEK == 3 * DAY + 9 * HOUR]
    assert all((t - MONDAY) // WEEK != 0 for t in thursdays.tolist())


def test_growth_keeps_an_empty_record_empty() -> None:
    nothing = np.zeros(0, dtype=np.int64)
    empty = UsageLog((), nothing, nothing, nothing)
    assert len(grow(empty, 50, 1)) == 0
