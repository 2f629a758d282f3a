"""Will the plan hold? A rolling backtest, and the smallest pool that holds a target.

Folds
-----
The record is cut into windows of ``fold_days`` days (7: weeks) from midnight (UTC) of its first
login's day to the midnight after its last login's day; a first login in the last ``SLIVER``
hours of a day or a last one in the first hours of a day (a night shift's edge) does not make
a day of its own. The days after the last whole window are never held out. For each whole
window after the first (or the last ``folds`` of them), the planner plans on everything before
the window, with the sessions still open at its start cut there, and its people listed in name
order, so nothing from the held-out window or later reaches that plan; then the window is
replayed against that plan with ``replay``'s rules: the logins (merged per person) of the
people the plan did not name, in time order, each admitted if a slot is free and otherwise
refused and dropped. Logins still open as the window begins take their slots (or are
refused) as the replay finds them but are not counted; every login starting inside the window
is. Anyone unseen before the window is, naturally, not named.

Each fold's split is proven within ``FOLD_GAP`` (0.1 %) of that fold's optimal cost rather
than exactly: closing the last cost step can take the solver minutes on some cuts of a large
record (see ``optimise``), and a named seat more or less in a fold's plan does not change how
well it holds. On the guide's 500 people the tolerance is under one cost step, so every fold's
plan there is the optimum (at the guide's prices). The plan itself is always exact.

Per fold: the denial rate (refused / counted logins), the minutes within the window when every
slot was held, and the people refused at least once. The summary is the mean of each figure
over the folds, and the fold with the highest denial rate.

Target
------
``target_pool`` is the smallest pool that keeps every fold's denial rate at or below R (or,
with ``mean=True``, the mean of the folds' rates), each fold keeping the named people its own
training plan chose: the pool is the one lever, so a fold's plan never sees its own window.
Because a larger pool refuses no more of a fold's logins (``replay``'s proof), "every fold at
or below R" is the largest of the folds' own smallest pools, and the mean is monotone too, so
each is found by a galloping search rather than a scan. The plan then keeps the named people of
the exact optimum on the whole record with this pool, and the headroom's cost is the pool's
difference from the in-sample optimum's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np

from .fit import fit
from .intervals import sweep
from .replay import least, refusals
from .usage import Mask, Times, UsageLog

DAY = 86400
WEEK_DAYS = 7
FOLD_GAP = 0.001
SLIVER = 6 * 3600


class TooShort(ValueError):
    """The record holds fewer than two whole windows, so nothing can be held out."""


@dataclass(frozen=True)
class Window:
    """Plan on ``[train_start, train_end)``, replay ``[test_start, test_end)`` (epoch seconds;
    ``train_end == test_start``)."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int


def windows(merged: UsageLog, fold_days: int = WEEK_DAYS, folds: int | None = None) -> list[Window]:
    """The folds' windows over the record (see the module docstring)."""
    length = fold_days * DAY
    if len(merged) == 0:
        raise TooShort("There are no sessions to hold out.")
    first, last = int(merged.start.min()), int(merged.start.max())
    origin = (first + SLIVER) // DAY * DAY
    horizon = (last - SLIVER) // DAY * DAY + DAY
    whole = max(0, horizon - origin) // length
    if whole < 2:
        days = max(0, horizon - origin) // DAY
        raise TooShort(
            f"A backtest needs two whole windows of {fold_days} days; the record covers {days}."
        )
    tests = list(range(1, whole))
    if folds is not None:
        tests = tests[-folds:]
    # Training starts with the record, slivers and all.
    return [
        Window(first, origin + k * length, origin + k * length, origin + (k + 1) * length)
        for k in tests
    ]


class Fold:
    """One held-out window: what its training plan chose, and the logins to replay."""

    def __init__(
        self,
        window: Window,
        named: tuple[str, ...],
        planned_slots: int,
        held_out: UsageLog,
        counted: Mask,
    ) -> None:
        self.window = window
        self.named = named  # the people the training plan named
        self.planned_slots = planned_slots  # the training plan's pool
        self.held_out = held_out  # merged logins of the others overlapping the window
        self.counted = counted  # those starting inside the window
        self.logins = int(counted.sum())
        self.demand = sweep(held_out.start, held_out.end)  # the pool's people online
        self.peak = self.demand.peak  # a pool this big refuses none
        self._replays: dict[int, Mask] = {}

    def replay(self, slots: int) -> Mask:
        """Which logins a pool of ``slots`` refuses, counted or not (kept: searches ask again)."""
        if slots not in self._replays:
            self._replays[slots] = refusals(self.held_out.start, self.held_out.end, slots)
        return self._replays[slots]

    def refused(self, slots: int) -> Mask:
        """Which counted logins a pool of ``slots`` refuses."""
        return self.replay(slots) & self.counted

    def denial_rate(self, slots: int) -> float:
        return int(self.refused(slots).sum()) / self.logins if self.logins else 0.0

    def result(self, slots: int) -> FoldResult:
        refused = self.refused(slots)
        log = self.held_out
        admitted = ~self.replay(slots)
        return FoldResult(
            window=self.window,
            named=len(self.named),
            slots=slots,
            logins=self.logins,
            refused=int(refused.sum()),
            full_seconds=_full_seconds(log.start[admitted], log.end[admitted], slots, self.window),
            people_refused=int(np.unique(log.owner[refused]).size),
        )


def _full_seconds(start: Times, end: Times, slots: int, window: Window) -> int:
    """How long within the held-out window every one of ``slots`` slots was held."""
    if slots == 0:
        return window.test_end - window.test_start
    steps = sweep(start, end)
    if steps.times.size == 0:
        return 0
    edges = np.clip(steps.times, window.test_start, window.test_end)
    begin, finish = edges, np.append(edges[1:], edges[-1])
    return int(((finish - begin) * (steps.load >= slots)).sum())


def prepare(
    merged: UsageLog,
    windows_: Iterable[Window],
    *,
    price_named: float,
    price_concurrent: float,
    max_denial_rate: float = 0.0,
) -> list[Fold]:
    """Plans each fold on its training window (see the module docstring)."""
    folds = []
    hint = None  # the previous fold's instants: fewer rounds of lazy constraints
    # Each training log lists its people in name order, so that nothing about them, not
    # even where someone first appears in the record, depends on the held-out window.
    names = np.array(merged.people, dtype=object)
    rank = np.empty(len(merged.people), dtype=np.int64)
    rank[np.argsort(names, kind="stable")] = np.arange(len(merged.people))
    for window in windows_:
        training, people = _training(merged, window.train_end, rank)
        planned = fit(training, price_named, price_concurrent, max_denial_rate, FOLD_GAP, hint)
        hint = planned.split.instants
        is_named = np.zeros(len(merged.people), dtype=np.bool_)
        is_named[people[planned.named]] = True
        keep = (
            (merged.start < window.test_end)
            & (merged.end > window.test_start)
            & ~is_named[merged.owner]
        )
        held_out = UsageLog(merged.people, merged.owner[keep], merged.start[keep], merged.end[keep])
        named = tuple(training.people[p] for p in np.flatnonzero(planned.named).tolist())
        counted = held_out.start >= window.test_start
        folds.append(Fold(window, named, planned.slots, held_out, counted))
    return folds


def _training(merged: UsageLog, cut: int, rank: Times) -> tuple[UsageLog, Times]:
    """The merged sessions before ``cut``, those still open there ending at it, with their
    people numbered in ``rank`` order; and the record's index of each training person."""
    before = merged.start < cut
    owner, start = merged.owner[before], merged.start[before]
    end = np.minimum(merged.end[before], cut)
    present = np.unique(owner)
    people = present[np.argsort(rank[present], kind="stable")]
    local = np.zeros(len(merged.people), dtype=np.int64)
    local[people] = np.arange(people.size)
    owner = local[owner]
    order = np.lexsort((start, owner))
    names = tuple(merged.people[p] for p in people.tolist())
    return UsageLog(names, owner[order], start[order], end[order]), people


def target_pool(folds: list[Fold], rate: float, *, mean: bool = False) -> int:
    """The smallest pool keeping every fold's denial rate (or their mean) at or below ``rate``."""
    if not folds:
        return 0

    def holds(fold: Fold, slots: int) -> bool:
        return int(fold.refused(slots).sum()) <= rate * fold.logins + 1e-9

    if mean:
        high = max(fold.peak for fold in folds)
        guess = max(fold.planned_slots for fold in folds)
        return least(
            lambda slots: sum(f.denial_rate(slots) for f in folds) / len(folds) <= rate + 1e-12,
            guess,
            high,
        )
    # Every fold: the largest of the folds' own smallest pools. A fold that the pool found so
    # far already holds needs no search of its own.
    pool = 0
    for fold in folds:
        if not holds(fold, pool):
            guess = max(pool + 1, fold.planned_slots)
            pool = least(partial(holds, fold), guess, fold.peak, low=pool + 1)
    return pool


@dataclass(frozen=True, kw_only=True)
class FoldResult:
    window: Window
    named: int
    slots: int
    logins: int
    refused: int
    full_seconds: int
    people_refused: int

    @property
    def denial_rate(self) -> float:
        return self.refused / self.logins if self.logins else 0.0

    @property
    def full_minutes(self) -> float:
        return self.full_seconds / 60

    def as_json(self) -> dict[str, Any]:
        w = self.window
        return {
            "train_start": iso(w.train_start),
            "train_end": iso(w.train_end),
            "test_start": iso(w.test_start),
            "test_end": iso(w.test_end),
            "named": self.named,
            "concurrent_slots": self.slots,
            "logins": self.logins,
            "refused": self.refused,
            "denial_rate": round(self.denial_rate, 6),
            "full_minutes": round(self.full_minutes, 1),
            "people_refused": self.people_refused,
        }


@dataclass(frozen=True)
class Validation:
    """The folds replayed, each against one pool size (or its own plan's)."""

    fold_days: int
    folds: tuple[FoldResult, ...]

    @property
    def mean_denial_rate(self) -> float:
        return float(np.mean([f.denial_rate for f in self.folds])) if self.folds else 0.0

    @property
    def mean_full_minutes(self) -> float:
        return float(np.mean([f.full_minutes for f in self.folds])) if self.folds else 0.0

    @property
    def mean_people_refused(self) -> float:
        return float(np.mean([f.people_refused for f in self.folds])) if self.folds else 0.0

    @property
    def worst(self) -> FoldResult | None:
        return max(self.folds, key=lambda f: f.denial_rate, default=None)

    def summary(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "folds": len(self.folds),
            "mean": {
                "denial_rate": round(self.mean_denial_rate, 6),
                "full_minutes": round(self.mean_full_minutes, 1),
                "people_refused": round(self.mean_people_refused, 2),
            },
            "worst": None if worst is None else worst.as_json(),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "fold_days": self.fold_days,
            "folds": [fold.as_json() for fold in self.folds],
            "summary": self.summary(),
        }


def validate(folds: list[Fold], fold_days: int, slots: int | None = None) -> Validation:
    """Each fold replayed against ``slots``, or by default against its own plan's pool."""
    return Validation(
        fold_days,
        tuple(fold.result(fold.planned_slots if slots is None else slots) for fold in folds),
    )


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
