"""The planner's ``halo-gate`` subcommands: ``cost``, ``simulate`` and ``plan``.

Each prints a human table by default and JSON with ``--json``. Bad input is one sentence on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .chart import bucket_peaks, sparkline, svg_chart
from .cost import DEFAULT_CURRENCY, CostComparison, cost_table, money, percent
from .profiles import ProfileError, load_profile
from .simulate import DEFAULT_START, simulate
from .usage import UsageError, read_usage_file, write_sessions

if TYPE_CHECKING:
    from .plan import Plan

BAD_INPUT = 2
SPARK_WIDTH = 72
CHART_BUCKETS = 720


def add_commands(sub: Any) -> None:
    """Adds ``cost``, ``simulate`` and ``plan`` to the ``halo-gate`` subparsers."""
    cost = sub.add_parser("cost", help="the annual cost of a named/concurrent split")
    cost.add_argument("--named", type=_count, required=True, help="named seats")
    cost.add_argument("--price-named", type=_price, required=True, help="per seat per month")
    cost.add_argument("--concurrent", type=_count, required=True, help="concurrent slots")
    cost.add_argument("--price-concurrent", type=_price, required=True, help="per slot per month")
    cost.add_argument("--named-only", type=_count, required=True, help="people, all named")
    cost.add_argument("--price-named-only", type=_price, help="default: --price-named")
    cost.add_argument("--currency", default=DEFAULT_CURRENCY)
    cost.add_argument("--json", action="store_true", help="print JSON")
    cost.set_defaults(run=run_cost)

    simulated = sub.add_parser("simulate", help="write synthetic usage CSV for a profile")
    simulated.add_argument("--profile", default="guide", help="'guide' or a TOML file")
    simulated.add_argument("--seed", type=int, default=0)
    simulated.add_argument("--days", type=_positive, default=30)
    simulated.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    simulated.add_argument("--scale", type=float, default=1.0, help="multiply head counts")
    simulated.add_argument("--output", default="-", help="CSV file (default: stdout)")
    simulated.set_defaults(run=run_simulate)

    planned = sub.add_parser("plan", help="recommend named people and a pool size from usage")
    planned.add_argument("usage", help="CSV with at least person,start,end")
    planned.add_argument("--price-named", type=_price, required=True)
    planned.add_argument("--price-concurrent", type=_price, required=True)
    planned.add_argument("--price-named-only", type=_price, help="default: --price-named")
    planned.add_argument("--max-denial-rate", type=_rate, default=0.0, metavar="R")
    planned.add_argument("--current-named", type=_count, help="named seats in force now")
    planned.add_argument("--current-concurrent", type=_count, help="pool size in force now")
    planned.add_argument("--chart", help="SVG file for the concurrency profile")
    planned.add_argument("--currency", default=DEFAULT_CURRENCY)
    planned.add_argument("--json", action="store_true", help="print JSON")
    planned.set_defaults(run=run_plan)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _price(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(text)
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


def _fail(message: str) -> int:
    print(f"halo-gate: {message}", file=sys.stderr)
    return BAD_INPUT


def run_cost(args: argparse.Namespace) -> int:
    comparison = CostComparison(
        named=args.named,
        price_named=args.price_named,
        concurrent=args.concurrent,
        price_concurrent=args.price_concurrent,
        named_only=args.named_only,
        price_named_only=(
            args.price_named if args.price_named_only is None else args.price_named_only
        ),
    )
    if args.json:
        print(json.dumps({**comparison.as_json(), "currency": args.currency}))
    else:
        print(cost_table(comparison, args.currency))
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        return _fail(str(exc))
    if args.scale != 1.0:
        profile = profile.scaled(args.scale)
    sessions = simulate(profile, days=args.days, seed=args.seed, start=args.start)
    if args.output == "-":
        write_sessions(sessions, sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            write_sessions(sessions, handle)
    return 0


def run_plan(args: argparse.Namespace) -> int:
    from .plan import Current, plan_usage  # SciPy loads only for this command

    if (args.current_named is None) != (args.current_concurrent is None):
        return _fail("--current-named and --current-concurrent go together.")
    current = None
    if args.current_named is not None:
        current = Current(args.current_named, args.current_concurrent)
    try:
        log = read_usage_file(args.usage)
    except UsageError as exc:
        return _fail(str(exc))
    if len(log) == 0:
        return _fail(f"{args.usage} has no sessions to plan from.")
    plan = plan_usage(
        log,
        price_named=args.price_named,
        price_concurrent=args.price_concurrent,
        price_named_only=args.price_named_only,
        max_denial_rate=args.max_denial_rate,
        current=current,
    )
    chart_path = args.chart
    if chart_path is not None and Path(chart_path).suffix.lower() != ".svg":
        return _fail(f"--chart {chart_path} must name an .svg file (the chart is SVG).")
    if chart_path is None and not args.json:
        chart_path = str(Path(args.usage).with_suffix(".svg"))
    if chart_path:
        Path(chart_path).write_text(_svg(plan), encoding="utf-8")
    if args.json:
        print(json.dumps(plan.as_json()))
    else:
        print(plan_report(plan, args.usage, args.currency, chart_path))
    return 0


def _svg(plan: Plan) -> str:
    everyone = bucket_peaks(
        plan.everyone.times, plan.everyone.load, plan.first, plan.last, CHART_BUCKETS
    )
    pool = bucket_peaks(plan.pool.times, plan.pool.load, plan.first, plan.last, CHART_BUCKETS)
    return svg_chart(
        [("everyone online", "#888", everyone), ("without a named seat", "#1f5fbf", pool)],
        plan.first,
        plan.last,
        plan.concurrent_slots,
        f"People online: {len(plan.named)} named, pool of {plan.concurrent_slots}",
    )


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def plan_report(plan: Plan, source: str, currency: str, chart_path: str | None) -> str:
    """The plan as text: the split and its cost, comparisons, profile, and the named people."""
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
    if plan.max_denial_rate > 0:
        lines.append(
            f"Denials: replaying the recorded logins, a pool of {plan.concurrent_slots} refuses "
            f"{100 * plan.denial_rate:.2f} % of them (allowed {100 * plan.max_denial_rate:g} %)."
        )
    proof = {"prices": "no named seat pays for itself at these prices", "bound": "LP bound met"}
    lines.append(f"Optimal: proven ({proof.get(plan.proof, 'branch-and-cut search')}).")
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
