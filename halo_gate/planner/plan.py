"""A licence plan from recorded usage: the exact split, what it costs against named-only and the
current configuration, the concurrency profile, and why each named person is named.

``plan_records`` is the entry point for callers holding ``(person, start, end)`` records (the
console); ``plan_usage`` takes a :class:`UsageLog` read from CSV.

With ``max_denial_rate`` R > 0 the named people are those of the exact zero-denial optimum, and the
pool is then the smallest one whose replayed denial rate is at most R (see ``replay``). Denials
depend on the order of logins, which no covering constraint expresses, so that step is exact
for the pool given the named people rather than jointly.

``validate`` adds the rolling backtest of that method (``backtest``); ``target_denial_rate``
sizes the pool from the backtest instead, keeping the exact optimum's named people.
With ``time_limit`` (seconds) the split is the best one the optimiser found by then, and the plan
says how far from the optimum it may be at worst (``lower_bound``; see ``optimise``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import backtest
from .backtest import WEEK_DAYS, Fold, Validation
from .cost import annual, exact
from .fit import Fit, fit
from .intervals import Sweep, merge_sessions, sweep
from .replay import denial_rate
from .usage import Record, UsageLog, usage_from_records

DAY = 86400


@dataclass(frozen=True)
class NamedPerson:
    """Why a person is named: time online, days active, and the share of the time the pool is
    full (without a pool: the time everyone's load peaks) during which they are online, i.e.
    when their slot would push the pool past its size."""

    person: str
    hours_online: float
    days_active: int
    peak_share: float

    def as_json(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "hours_online": round(self.hours_online, 2),
            "days_active": self.days_active,
            "peak_share": round(self.peak_share, 4),
        }


@dataclass(frozen=True)
class Current:
    """The licences in force now, to compare the plan against."""

    named: int
    concurrent: int


@dataclass(frozen=True, kw_only=True)
class Target:
    """The pool sized by the backtest, against the exact optimum on the whole record."""

    rate: float
    mean: bool  # the folds' mean held at ``rate``, rather than every fold
    slots: int
    in_sample_slots: int
    in_sample: Validation  # the backtest of the exact optimum's method
    price_concurrent: float

    @property
    def headroom_slots(self) -> int:
        return self.slots - self.in_sample_slots

    @property
    def headroom_annual_cost(self) -> float:
        return annual(self.headroom_slots, self.price_concurrent)

    def as_json(self) -> dict[str, Any]:
        return {
            "denial_rate": self.rate,
            "over": "mean" if self.mean else "every_fold",
            "concurrent_slots": self.slots,
            "in_sample_slots": self.in_sample_slots,
            "headroom_slots": self.headroom_slots,
            "headroom_annual_cost": exact(self.headroom_annual_cost),
            "in_sample_validation": self.in_sample.summary(),
        }


@dataclass(frozen=True, kw_only=True)
class Plan:
    people: int
    sessions: int
    first: int  # epoch seconds of the first start and the last end
    last: int
    named: tuple[NamedPerson, ...]
    concurrent_slots: int
    price_named: float
    price_concurrent: float
    price_named_only: float
    max_denial_rate: float
    denial_rate: float
    proof: str
    lower_bound: float | None  # monthly; None when the split is proven optimal
    current: Current | None
    everyone: Sweep  # people online over time
    pool: Sweep  # people without a named seat online over time
    validation: Validation | None = None
    target: Target | None = None
    folds: tuple[Fold, ...] = ()
    # The zero-denial optimum the plan starts from: what an idle policy is weighed against
    # (see ``policy.policy_saving``) without searching for it again.
    fitted: Fit | None = field(default=None, repr=False, compare=False)

    @property
    def annual_cost(self) -> float:
        return annual(len(self.named), self.price_named) + annual(
            self.concurrent_slots, self.price_concurrent
        )

    @property
    def named_only_annual_cost(self) -> float:
        return annual(self.people, self.price_named_only)

    @property
    def saving(self) -> float:
        return self.named_only_annual_cost - self.annual_cost

    @property
    def saving_pct(self) -> float:
        cost = self.named_only_annual_cost
        return round(100 * self.saving / cost, 1) if cost else 0.0

    @property
    def current_annual_cost(self) -> float | None:
        if self.current is None:
            return None
        return annual(self.current.named, self.price_named) + annual(
            self.current.concurrent, self.price_concurrent
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "named": [reason.person for reason in self.named],
            "concurrent_slots": self.concurrent_slots,
            "annual_cost": exact(self.annual_cost),
            "named_only_annual_cost": exact(self.named_only_annual_cost),
            "saving": exact(self.saving),
            "saving_pct": self.saving_pct,
            "people": self.people,
            "sessions": self.sessions,
            "denial_rate": round(self.denial_rate, 6),
            "max_denial_rate": self.max_denial_rate,
            "proof": self.proof,
            **self._lower_bound(),
            "reasons": [reason.as_json() for reason in self.named],
        }
        current_cost = self.current_annual_cost
        if self.current is not None and current_cost is not None:
            data["current"] = {
                "named": self.current.named,
                "concurrent": self.current.concurrent,
                "annual_cost": exact(current_cost),
                "saving": exact(current_cost - self.annual_cost),
            }
        if self.validation is not None:
            data["validation"] = self.validation.as_json()
        if self.target is not None:
            data["target"] = self.target.as_json()
        return data

    def _lower_bound(self) -> dict[str, Any]:
        if self.lower_bound is None:
            return {}
        return {"annual_cost_lower_bound": exact(annual(1, self.lower_bound))}


def plan_records(
    records: Iterable[Record],
    *,
    price_named: float,
    price_concurrent: float,
    price_named_only: float | None = None,
    max_denial_rate: float = 0.0,
    current: Current | None = None,
    validate: bool = False,
    fold_days: int = WEEK_DAYS,
    folds: int | None = None,
    target_denial_rate: float | None = None,
    target_mean: bool = False,
    time_limit: float | None = None,
) -> Plan:
    """The plan for ``(person, start, end)`` records (datetimes, naive = UTC, or epoch seconds;
    an ``end_reason`` fourth is allowed)."""
    return plan_usage(
        usage_from_records(records),
        price_named=price_named,
        price_concurrent=price_concurrent,
        price_named_only=price_named_only,
        max_denial_rate=max_denial_rate,
        current=current,
        validate=validate,
        fold_days=fold_days,
        folds=folds,
        target_denial_rate=target_denial_rate,
        target_mean=target_mean,
        time_limit=time_limit,
    )


def plan_usage(
    log: UsageLog,
    *,
    price_named: float,
    price_concurrent: float,
    price_named_only: float | None = None,
    max_denial_rate: float = 0.0,
    current: Current | None = None,
    validate: bool = False,
    fold_days: int = WEEK_DAYS,
    folds: int | None = None,
    target_denial_rate: float | None = None,
    target_mean: bool = False,
    time_limit: float | None = None,
) -> Plan:
    """The cheapest plan for recorded sessions (see the module docstring). With ``validate``
    or ``target_denial_rate``, a record shorter than two windows of ``fold_days`` raises
    :class:`backtest.TooShort`."""
    merged = merge_sessions(log)
    fitted = fit(merged, price_named, price_concurrent, max_denial_rate, time_limit=time_limit)
    is_named, split, slots = fitted.named, fitted.split, fitted.slots
    validation, target = None, None
    held_out: tuple[Fold, ...] = ()
    if validate or target_denial_rate is not None:
        cuts = backtest.windows(merged, fold_days, folds)
        held_out = tuple(
            backtest.prepare(
                merged,
                cuts,
                price_named=price_named,
                price_concurrent=price_concurrent,
                max_denial_rate=max_denial_rate,
            )
        )
        validation = backtest.validate(list(held_out), fold_days)
        if target_denial_rate is not None:
            slots = backtest.target_pool(list(held_out), target_denial_rate, mean=target_mean)
            target = Target(
                rate=target_denial_rate,
                mean=target_mean,
                slots=slots,
                in_sample_slots=fitted.slots,
                in_sample=validation,
                price_concurrent=price_concurrent,
            )
            validation = backtest.validate(list(held_out), fold_days, slots)
    free = ~is_named[merged.owner]
    pool_start, pool_end = merged.start[free], merged.end[free]
    everyone = sweep(merged.start, merged.end)
    pool = sweep(pool_start, pool_end)
    return Plan(
        people=len(log.people),
        sessions=len(log),
        first=int(log.start.min()) if len(log) else 0,
        last=int(log.end.max()) if len(log) else 0,
        named=_reasons(log.people, merged, is_named, pool, everyone, slots),
        concurrent_slots=slots,
        price_named=price_named,
        price_concurrent=price_concurrent,
        price_named_only=price_named if price_named_only is None else price_named_only,
        max_denial_rate=max_denial_rate,
        denial_rate=denial_rate(pool_start, pool_end, slots),
        proof=split.proof,
        lower_bound=split.lower_bound,
        current=current,
        everyone=everyone,
        pool=pool,
        validation=validation,
        target=target,
        folds=held_out,
        fitted=fitted if max_denial_rate == 0 else None,
    )


def _reasons(
    people: tuple[str, ...],
    merged: UsageLog,
    is_named: np.ndarray[Any, np.dtype[np.bool_]],
    pool: Sweep,
    everyone: Sweep,
    slots: int,
) -> tuple[NamedPerson, ...]:
    if not is_named.any():
        return ()
    on_named = is_named[merged.owner]
    owner, start, end = merged.owner[on_named], merged.start[on_named], merged.end[on_named]
    hours = np.bincount(owner, weights=(end - start) / 3600, minlength=len(people))
    # Days touched by each interval (most lie within one day), counted once per person.
    first_day, last_day = start // DAY, (end - 1) // DAY
    span = last_day - first_day + 1
    offset = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
    day = np.repeat(first_day, span) + offset
    pairs = np.unique(np.repeat(owner, span) * (int(day.max()) + 1) + day)
    days = np.bincount(pairs // (int(day.max()) + 1), minlength=len(people))
    # The pool's busiest moments: where it is at (or over) its planned size, or with no pool,
    # where everyone's load peaks.
    steps = pool if slots > 0 else everyone
    level = slots if slots > 0 else everyone.peak
    # Time-weighted: busy(t) is how long the pool has been that busy up to t, so an interval's
    # overlap with the busiest moments is busy(end) - busy(start).
    busy_segment = np.where(steps.load[:-1] >= max(level, 1), np.diff(steps.times), 0)
    busy_until = np.concatenate(([0], np.cumsum(busy_segment)))
    if busy_until[-1] > 0:
        busy_at_end = np.interp(end, steps.times, busy_until)
        overlap = busy_at_end - np.interp(start, steps.times, busy_until)
        share = np.bincount(owner, weights=overlap, minlength=len(people)) / busy_until[-1]
    else:
        share = np.zeros(len(people))
    order = sorted(np.flatnonzero(is_named).tolist(), key=lambda p: (-hours[p], people[p]))
    return tuple(
        NamedPerson(people[p], float(hours[p]), int(days[p]), float(share[p])) for p in order
    )
