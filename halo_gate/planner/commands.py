"""The planner's ``halo-gate`` subcommands: ``cost``, ``simulate`` and ``plan``.

Each prints a human table by default and JSON with ``--json``. Bad input is one sentence on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cost import DEFAULT_CURRENCY, CostComparison, annual, cost_table
from .profiles import ProfileError, load_profile
from .simulate import DEFAULT_IDLE_TIMEOUT, DEFAULT_START, simulate
from .usage import UsageError, UsageLog, read_usage_file, write_sessions

if TYPE_CHECKING:
    from .growth import Growth

BAD_INPUT = 2


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
    simulated.add_argument(
        "--idle-timeout",
        type=_positive,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="S",
        help="the idle timeout the idled-out sessions held their slots for",
    )
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
    held = planned.add_argument_group("will the plan hold")
    held.add_argument("--validate", action="store_true", help="rolling backtest by week")
    held.add_argument("--fold-days", type=_positive, metavar="N", help="hold out N days at a time")
    held.add_argument("--folds", type=_positive, metavar="N", help="hold out the last N only")
    held.add_argument(
        "--target-denial-rate",
        type=_rate,
        metavar="R",
        help="the smallest pool keeping every held-out week at or below R",
    )
    held.add_argument(
        "--target-mean", action="store_true", help="hold the weeks' mean at R, not every week"
    )
    held.add_argument("--growth", type=_percent, metavar="P", help="plan for P %% more people")
    held.add_argument("--seed", type=int, default=0, help="for --growth's resampling")
    idle = planned.add_argument_group("what an idle policy costs (needs end_reason)")
    idle.add_argument("--idle-timeout", type=_positive, metavar="S", help="seconds")
    idle.add_argument("--harvest-idle", type=_positive, metavar="S", help="seconds")
    idle.add_argument(
        "--recorded-idle-timeout",
        type=_positive,
        metavar="S",
        help="the timeout in force when the usage was recorded "
        "(default: $HALO_GATE_IDLE_TIMEOUT, else 1800)",
    )
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


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 10_000:
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
    sessions = simulate(
        profile, days=args.days, seed=args.seed, start=args.start, idle_timeout=args.idle_timeout
    )
    if args.output == "-":
        write_sessions(sessions, sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            write_sessions(sessions, handle)
    return 0


def _conflict(args: argparse.Namespace) -> str | None:
    """One sentence naming options that do not go together, or None."""
    backtest = args.validate or args.target_denial_rate is not None
    if (args.current_named is None) != (args.current_concurrent is None):
        return "--current-named and --current-concurrent go together."
    if not backtest and (args.fold_days or args.folds):
        return "--fold-days and --folds go with --validate or --target-denial-rate."
    if args.target_mean and args.target_denial_rate is None:
        return "--target-mean goes with --target-denial-rate."
    if args.target_denial_rate is not None and args.max_denial_rate > 0:
        return "--target-denial-rate and --max-denial-rate size the pool two ways; give one."
    if args.growth is not None and backtest:
        return (
            "--growth cannot be held out: its resampled weeks mix every week of the record, "
            "so leave out --validate and --target-denial-rate."
        )
    if args.chart is not None and Path(args.chart).suffix.lower() != ".svg":
        return f"--chart {args.chart} must name an .svg file (the chart is SVG)."
    return None


def _recorded_idle_timeout(args: argparse.Namespace) -> int:
    if args.recorded_idle_timeout is not None:
        return int(args.recorded_idle_timeout)
    text = os.environ.get("HALO_GATE_IDLE_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_IDLE_TIMEOUT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(
            f"HALO_GATE_IDLE_TIMEOUT has value {text!r}; give --recorded-idle-timeout instead."
        )
    return value


def _grown(log: UsageLog, args: argparse.Namespace) -> tuple[UsageLog, Growth]:
    """The organisation ``--growth`` % larger, and today's plan (by the same method) to
    compare it with."""
    from .fit import fit
    from .growth import Growth, grow
    from .intervals import merge_sessions

    today = fit(merge_sessions(log), args.price_named, args.price_concurrent, args.max_denial_rate)
    named = int(today.named.sum())
    grown = grow(log, args.growth, args.seed)
    return grown, Growth(
        percent=args.growth,
        seed=args.seed,
        people_today=len(log.people),
        people_added=len(grown.people) - len(log.people),
        named_today=named,
        slots_today=today.slots,
        annual_cost_today=annual(named, args.price_named)
        + annual(today.slots, args.price_concurrent),
    )


def run_plan(args: argparse.Namespace) -> int:
    # SciPy loads only for this command.
    from .backtest import WEEK_DAYS, TooShort
    from .plan import Current, plan_usage
    from .policy import NoEndReasons, Policy, policy_saving, under_policy
    from .report import growth_line, plan_report, policy_line, svg

    conflict = _conflict(args)
    if conflict is not None:
        return _fail(conflict)
    current = None
    if args.current_named is not None:
        current = Current(args.current_named, args.current_concurrent)
    try:
        log: UsageLog = read_usage_file(args.usage)
        recorded_timeout = _recorded_idle_timeout(args)
    except UsageError as exc:
        return _fail(str(exc))
    if len(log) == 0:
        return _fail(f"{args.usage} has no sessions to plan from.")
    prices = {"price_named": args.price_named, "price_concurrent": args.price_concurrent}
    saving = None
    if args.idle_timeout is not None or args.harvest_idle is not None:
        policy = Policy(idle_timeout=args.idle_timeout, harvest_idle=args.harvest_idle)
        try:
            saving = policy_saving(log, policy, recorded_idle_timeout=recorded_timeout, **prices)
        except NoEndReasons as exc:
            return _fail(f"{args.usage}: {exc}")
        log = under_policy(log, policy, recorded_timeout)
    growth = None
    if args.growth is not None:
        log, growth = _grown(log, args)
    try:
        plan = plan_usage(
            log,
            **prices,
            price_named_only=args.price_named_only,
            max_denial_rate=args.max_denial_rate,
            current=current,
            validate=args.validate,
            fold_days=args.fold_days or WEEK_DAYS,
            folds=args.folds,
            target_denial_rate=args.target_denial_rate,
            target_mean=args.target_mean,
        )
    except TooShort as exc:
        return _fail(str(exc))
    chart_path = args.chart
    if chart_path is None and not args.json:
        chart_path = str(Path(args.usage).with_suffix(".svg"))
    if chart_path:
        Path(chart_path).write_text(svg(plan), encoding="utf-8")
    if args.json:
        data = plan.as_json()
        if growth is not None:
            data["growth"] = growth.as_json(plan.annual_cost)
        if saving is not None:
            data["policy"] = saving.as_json(args.currency)
        print(json.dumps(data))
        return 0
    notes = [] if saving is None else [policy_line(saving, args.currency)]
    if growth is not None:
        notes.append(growth_line(growth, plan, args.currency))
    print(plan_report(plan, args.usage, args.currency, chart_path, notes))
    return 0
