"""The rolling backtest: windows, folds planned without their own window, replays, the target."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from halo_gate.planner.backtest import TooShort, Window, prepare, target_pool, validate, windows
from halo_gate.planner.intervals import merge_sessions
from halo_gate.planner.usage import usage_from_records

from .support import DAY, HOUR, MONDAY, PROPERTY, Row, log_of, records

FOLD_DAYS = 2  # small folds keep the property tests fast: 6 days make 2 folds


def test_windows_run_from_the_first_logins_day_to_the_last_ones_but_not_a_nights_edge() -> None:
    rows = [("a", MONDAY - HOUR, MONDAY + HOUR), ("b", MONDAY + 20 * DAY + 5 * HOUR, MONDAY)]
    merged = merge_sessions(usage_from_records([rows[0], ("b", rows[1][1], rows[1][1] + HOUR)]))
    cuts = windows(merged)
    # 23:00 on Sunday and 05:00 on the 21st day are a night's edges: 20 days from Monday, two
    # whole weeks, one fold; the sliver before Monday still trains it.
    assert cuts == [Window(MONDAY - HOUR, MONDAY + 7 * DAY, MONDAY + 7 * DAY, MONDAY + 14 * DAY)]
    assert len(windows(merged, fold_days=2)) == 9
    assert [w.test_start for w in windows(merged, 2, folds=3)] == [
        MONDAY + day * DAY for day in (14, 16, 18)
    ]
    with pytest.raises(TooShort, match="two whole windows of 14 days; the record covers 20"):
        windows(merged, fold_days=14)


def test_a_fold_counts_only_logins_inside_its_window() -> None:
    # Pool of one: "early" holds the slot over midnight into the held-out day, so "x" is refused.
    rows: list[Row] = [
        ("early", MONDAY + 23 * HOUR, MONDAY + DAY + 2 * HOUR, "logout"),
        ("x", MONDAY + DAY + HOUR, MONDAY + DAY + 3 * HOUR, "logout"),
        ("y", MONDAY + DAY + 5 * HOUR, MONDAY + DAY + 6 * HOUR, "logout"),
    ]
    merged = merge_sessions(log_of(rows))
    window = Window(MONDAY, MONDAY + DAY, MONDAY + DAY, MONDAY + 2 * DAY)
    # At these prices naming nobody is cheapest.
    (fold,) = prepare(merged, [window], price_named=100, price_concurrent=100)
    assert fold.named == () and fold.planned_slots == 1
    result = fold.result(1)
    assert (result.logins, result.refused, result.people_refused) == (2, 1, 1)
    assert result.denial_rate == 0.5
    # Full from midnight (early's slot) until it leaves at 02:00, then y alone fills it.
    assert result.full_minutes == 2 * 60 + 60
    assert fold.result(2).refused == 0 and fold.result(2).full_minutes == 60


@PROPERTY
@given(records(), st.data())
def test_a_fold_is_planned_without_its_held_out_window(
    rows: list[Row], data: st.DataObject
) -> None:
    merged = merge_sessions(log_of(rows))
    cuts = windows(merged, FOLD_DAYS)
    folds = prepare(merged, cuts, price_named=70, price_concurrent=140)
    k = data.draw(st.integers(min_value=0, max_value=len(cuts) - 1))
    cut = cuts[k].test_start
    # Whatever happens from the held-out window on, that fold plans alike: drop it, add to it,
    # even list the rows in another order (where someone first appears moves).
    kept = [row for row in rows if row[1] < cut]
    extra = data.draw(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 3 * DAY)), max_size=6))
    kept += [(f"p{p}", cut + at, cut + at + 2 * HOUR, "logout") for p, at in extra]
    kept = data.draw(st.permutations(kept))
    changed = prepare(
        merge_sessions(log_of(kept)), cuts[: k + 1], price_named=70, price_concurrent=140
    )
    assert changed[k].named == folds[k].named
    assert changed[k].planned_slots == folds[k].planned_slots


@PROPERTY
@given(records())
def test_a_larger_pool_never_raises_a_folds_denial_rate(rows: list[Row]) -> None:
    merged = merge_sessions(log_of(rows))
    cuts = windows(merged, FOLD_DAYS)
    for fold in prepare(merged, cuts, price_named=70, price_concurrent=140):
        rates = [fold.result(slots).denial_rate for slots in range(fold.peak + 2)]
        assert all(later <= earlier for earlier, later in zip(rates, rates[1:], strict=False))
        assert rates[fold.peak] == 0.0


@PROPERTY
@given(records(), st.sampled_from([0.0, 0.01, 0.1, 0.3]), st.booleans())
def test_the_target_pool_is_the_smallest_that_holds_it(
    rows: list[Row], rate: float, mean: bool
) -> None:
    merged = merge_sessions(log_of(rows))
    cuts = windows(merged, FOLD_DAYS)
    folds = prepare(merged, cuts, price_named=70, price_concurrent=140)
    pool = target_pool(folds, rate, mean=mean)

    def holds(slots: int) -> bool:
        rates = [fold.result(slots).denial_rate for fold in folds]
        return (float(np.mean(rates)) if mean else max(rates)) <= rate + 1e-9

    scan = [slots for slots in range(max(f.peak for f in folds) + 1) if holds(slots)]
    assert pool == scan[0]


def test_validation_summarises_the_folds_in_the_named_json_fields() -> None:
    rows: list[Row] = []
    for day in range(6):
        for person in range(3):
            start = MONDAY + day * DAY + (9 + person) * HOUR
            rows.append((f"p{person}", start, start + 2 * HOUR, "logout"))
    rows.append(("newcomer", MONDAY + 4 * DAY + 10 * HOUR, MONDAY + 4 * DAY + 12 * HOUR, "idle"))
    merged = merge_sessions(log_of(rows))
    folds = prepare(merged, windows(merged, FOLD_DAYS), price_named=100, price_concurrent=100)
    validation = validate(folds, FOLD_DAYS)
    data = validation.as_json()
    assert [fold["test_start"] for fold in data["folds"]] == [
        "2026-01-07T00:00:00Z",
        "2026-01-09T00:00:00Z",
    ]
    assert set(data["folds"][0]) >= {
        "train_start", "train_end", "test_start", "test_end",
        "denial_rate", "full_minutes", "people_refused",
    }  # fmt: skip
    # Two people overlap each hour from 10:00 to 12:00; the newcomer on day 5 is a third.
    assert [fold["concurrent_slots"] for fold in data["folds"]] == [2, 2]
    assert [fold["refused"] for fold in data["folds"]] == [0, 1]
    assert data["summary"]["mean"]["people_refused"] == 0.5
    assert data["summary"]["worst"]["test_start"] == "2026-01-09T00:00:00Z"
