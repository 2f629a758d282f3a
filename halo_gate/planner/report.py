"""``halo-gate plan``'s output as text and as an SVG chart: the split and its cost, the
backtest in plain words, the target's headroom, growth and an idle policy's saving."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from .backtest import Validation
from .chart import bucket_peaks, sparkline, svg_chart, within
from .cost import money, percent
from .growth import Growth
from .plan import Plan, Target
from .policy import PolicySaving, minutes

SPARK_WIDTH = 72
CHART_BUCKETS = 720
DAY = 86400


def svg(plan: Plan) -> str:
    """People online, those without a named seat, and the held-out weeks against the pool."""
    first, last = plan.first, plan.last
    everyone = bucket_peaks(plan.everyone.times, plan.everyone.load, first, last, CHART_BUCKETS)
    pool = bucket_peaks(plan.pool.times, plan.pool.load, first, last, CHART_BUCKETS)
    series = [("everyone online", "#888", everyone), ("without a named seat", "#1f5fbf", pool)]
    bands: list[tuple[int, int]] = []
    marks: list[int] = []
    if plan.folds:
        held = np.zeros(CHART_BUCKETS, dtype=np.int64)
        for fold in plan.folds:
            w = fold.window
            steps = fold.demand
            peaks = bucket_peaks(steps.times, steps.load, first, last, CHART_BUCKETS)
            held = np.maximum(held, within(peaks, first, last, w.test_start, w.test_end))
            bands.append((w.test_start, w.test_end))
            refused = fold.refused(plan.concurrent_slots)
            marks += fold.held_out.start[refused].tolist()
        series.append(("held out, without a named seat", "#b8860b", held))
    return svg_chart(
        series,
        first,
        last,
        plan.concurrent_slots,
        f"People online: {len(plan.named)} named, pool of {plan.concurrent_slots}",
        bands=bands,
        marks=marks,
    )


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def _rate(value: float) -> str:
    return f"{100 * value:.2f} %"


def plan_report(
    plan: Plan, source: str, currency: str, chart_path: str | None, notes: Sequence[str] = ()
) -> str:
    """The plan as text: the split and its cost, comparisons (and ``notes``: growth, an idle
    policy), the backtest, the profile, and the named people."""
    named = len(plan.named)
    named_cost = 12 * named * plan.price_named
    pool_cost = 12 * plan.concurrent_slots * plan.price_concurrent
    lines = [
        f"Usage: {source}: {plan.people:,} people, {plan.sessions:,} sessions, "
        f"{_day(plan.first)} to {_day(plan.last)} UTC.",
        f"Plan: {named:,} named seats and a pool of {plan.concurrent_slots:,} concurrent slots.",
        f"  named       {named:>7,} x {money(plan.price_named):>8} a month = "
        f"{money(named_cost):>12} {currency} a year",
        f"  concurrent  {plan.concurrent_slots:>7,} x {money(plan.price_concurrent):>8} a month = "
        f"{money(pool_cost):>12} {currency} a year",
        f"  total{'':37}{money(plan.annual_cost):>12} {currency} a year",
        f"Named-only ({plan.people:,} x {money(plan.price_named_only)} a month): "
        f"{money(plan.named_only_annual_cost)} {currency} a year; the plan saves "
        f"{money(plan.saving)} ({percent(plan.saving_pct)}).",
    ]
    current_cost = plan.current_annual_cost
    if plan.current is not None and current_cost is not None:
        change = current_cost - plan.annual_cost
        share = 100 * change / current_cost if current_cost else 0.0
        lines.append(
            f"Current ({plan.current.named:,} named, {plan.current.concurrent:,} concurrent): "
            f"{money(current_cost)} {currency} a year; the plan saves {money(change)} "
            f"({percent(round(share, 1))})."
        )
    if plan.max_denial_rate > 0 or plan.target is not None:
        allowed = f" (allowed {100 * plan.max_denial_rate:g} %)" if plan.max_denial_rate else ""
        lines.append(
            f"Denials: replaying the recorded logins, a pool of {plan.concurrent_slots} refuses "
            f"{100 * plan.denial_rate:.2f} % of them{allowed}."
        )
    proof = {"prices": "no named seat pays for itself at these prices", "bound": "LP bound met"}
    lines.append(f"Optimal: proven ({proof.get(plan.proof, 'branch-and-cut search')}).")
    lines += notes
    if plan.target is not None:
        lines += ["", *target_lines(plan.target, currency)]
    if plan.validation is not None:
        lines += ["", *validation_lines(plan.validation, plan.target is not None)]
    everyone = bucket_peaks(
        plan.everyone.times, plan.everyone.load, plan.first, plan.last, SPARK_WIDTH
    )
    pool = bucket_peaks(plan.pool.times, plan.pool.load, plan.first, plan.last, SPARK_WIDTH)
    top = int(everyone.max()) if everyone.size else 0
    lines += [
        "",
        "People online (peak per slice of time):",
        f"  everyone            {sparkline(everyone, top)}  peak {plan.everyone.peak:,}",
        f"  without named seat  {sparkline(pool, top)}  peak {plan.pool.peak:,}",
    ]
    if chart_path:
        lines.append(f"Chart: {chart_path}")
    if plan.named:
        width = max(len(reason.person) for reason in plan.named)
        lines += ["", f"{'Named person':<{width}}  hours online  days active  share of peak"]
        lines += [
            f"{r.person:<{width}}  {r.hours_online:>12,.1f}  {r.days_active:>11}  "
            f"{100 * r.peak_share:>12.0f} %"
            for r in plan.named
        ]
    return "\n".join(lines)


def held_out_sentence(validation: Validation, whose: str) -> str:
    """How often people would have been refused, in plain words."""
    worst = validation.worst
    if worst is None:
        return "No window was held out."
    days = validation.fold_days
    unit = "week" if days == 7 else f"{days} days"
    per_day = validation.mean_people_refused / days
    return (
        f"Held out one {unit} at a time, each replayed against {whose}, "
        f"{_rate(validation.mean_denial_rate)} of logins would have been refused on average "
        f"and {_rate(worst.denial_rate)} in the worst {unit} (from "
        f"{_date(worst.window.test_start)}): {validation.mean_people_refused:.1f} people "
        f"a {unit} (about {per_day:.1f} a day) would have met a full pool at least once, "
        f"and the pool would have been full {_minutes(validation.mean_full_minutes)} a {unit}."
    )


def _minutes(value: float) -> str:
    return "1 minute" if round(value) == 1 else f"{value:.0f} minutes"


def validation_lines(validation: Validation, targeted: bool) -> list[str]:
    whose = "this pool" if targeted else "a plan made from the weeks before it only"
    lines = [
        "Will the plan hold? " + held_out_sentence(validation, whose),
        f"  {'held out':<10}  {'named':>6}  {'pool':>5}  {'logins':>7}  {'refused':>7}  "
        f"{'rate':>7}  {'full':>8}  {'people refused':>14}",
    ]
    for fold in validation.folds:
        lines.append(
            f"  {_date(fold.window.test_start):<10}  {fold.named:>6,}  {fold.slots:>5,}  "
            f"{fold.logins:>7,}  {fold.refused:>7,}  {_rate(fold.denial_rate):>7}  "
            f"{fold.full_minutes:>4.0f} min  {fold.people_refused:>14,}"
        )
    lines.append(
        f"  {'mean':<10}  {'':>6}  {'':>5}  {'':>7}  {'':>7}  "
        f"{_rate(validation.mean_denial_rate):>7}  {validation.mean_full_minutes:>4.0f} min  "
        f"{validation.mean_people_refused:>14.1f}"
    )
    return lines


def target_lines(target: Target, currency: str) -> list[str]:
    over = "on average over the held-out weeks" if target.mean else "in every held-out week"
    change = "more" if target.headroom_slots >= 0 else "less"
    return [
        f"Target: at most {100 * target.rate:g} % of logins refused {over}. The smallest pool "
        f"that holds it is {target.slots:,}, {abs(target.headroom_slots):,} slots "
        f"{'above' if target.headroom_slots >= 0 else 'below'} the in-sample optimum of "
        f"{target.in_sample_slots:,}: the headroom costs {money(abs(target.headroom_annual_cost))} "
        f"{currency} a year {change}.",
        "  " + held_out_sentence(target.in_sample, "the in-sample optimum made without it"),
    ]


def growth_line(growth: Growth, plan: Plan, currency: str) -> str:
    extra = plan.annual_cost - growth.annual_cost_today
    return (
        f"Growth: {growth.percent:g} % more people ({growth.people_added:,} added to "
        f"{growth.people_today:,}, each living a recorded person's weeks, resampled with seed "
        f"{growth.seed}). Today's plan: {growth.named_today:,} named and "
        f"{growth.slots_today:,} slots, {money(growth.annual_cost_today)} {currency} a year; "
        f"the larger organisation's: {len(plan.named):,} named and "
        f"{plan.concurrent_slots:,} slots, {money(plan.annual_cost)} {currency} a year "
        f"({'+' if extra >= 0 else '-'}{money(abs(extra))})."
    )


def policy_line(saving: PolicySaving, currency: str) -> str:
    sentence = saving.sentence(currency)
    return (
        f"Idle policy: {sentence[0].upper()}{sentence[1:]}, replaying the record's "
        f"{saving.idled_out:,} sessions that idled out (recorded with an idle timeout of "
        f"{minutes(saving.recorded_idle_timeout)}); this plan is made on that replay."
    )
