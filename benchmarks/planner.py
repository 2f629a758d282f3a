"""How long planning takes on 10,000 people x 90 days, and the memory it needs.

    python benchmarks/planner.py [--scale 20] [--days 90] [--seed 1] [--max-denial-rate R]
    python benchmarks/planner.py --validate [--folds 8] [--target-denial-rate R]

The usage is the guide's organisation scaled to 10,000 people (``halo-gate simulate --scale
20``), written to CSV by a child process so that this process's peak memory is the planner's:
reading the CSV and planning, which are timed separately. With ``--validate`` the plan also
runs the rolling backtest (``halo-gate plan --validate``) on the last ``--folds`` weeks, each
planned on the weeks before it. Times are wall clock and this process's CPU time: on a machine
shared with other work, the CPU time is what the planning itself took.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from halo_gate.planner.plan import plan_usage  # noqa: E402
from halo_gate.planner.usage import read_usage_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=20.0, help="times the guide's 500 people")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-denial-rate", type=float, default=0.0, metavar="R")
    parser.add_argument("--validate", action="store_true", help="add the rolling backtest")
    parser.add_argument("--folds", type=int, default=8, help="weeks held out with --validate")
    parser.add_argument("--target-denial-rate", type=float, metavar="R")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        usage = Path(folder) / "usage.csv"
        began = time.perf_counter()
        subprocess.run(
            [
                sys.executable, "-m", "halo_gate.cli", "simulate", "--profile", "guide",
                "--scale", str(args.scale), "--days", str(args.days), "--seed", str(args.seed),
                "--output", str(usage),
            ],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        simulated = time.perf_counter() - began
        size = usage.stat().st_size

        began, cpu = time.perf_counter(), time.process_time()
        log = read_usage_file(usage)
        read, read_cpu = time.perf_counter() - began, time.process_time() - cpu
        backtest = args.validate or args.target_denial_rate is not None
        began, cpu = time.perf_counter(), time.process_time()
        plan = plan_usage(
            log,
            price_named=70,
            price_concurrent=140,
            price_named_only=100,
            max_denial_rate=args.max_denial_rate,
            validate=backtest,
            folds=args.folds if backtest else None,
            target_denial_rate=args.target_denial_rate,
        )
        planned, planned_cpu = time.perf_counter() - began, time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step = "plan + backtest" if backtest else "plan"
    print(f"usage: {plan.people:,} people, {plan.sessions:,} sessions over {args.days} days")
    print(f"  (simulated in {simulated:.1f} s, {size / 2**20:.0f} MiB of CSV)")
    print(f"{'step':<16}  {'wall':>7}  {'CPU':>7}")
    print(f"{'read CSV':<16}  {read:5.1f} s  {read_cpu:5.1f} s")
    print(f"{step:<16}  {planned:5.1f} s  {planned_cpu:5.1f} s  (proof: {plan.proof})")
    print(f"{'total':<16}  {read + planned:5.1f} s  {read_cpu + planned_cpu:5.1f} s", end="")
    print(f"  on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"peak memory (max RSS of this process): {peak_kib / 1024:.0f} MiB")
    print(
        f"result: {len(plan.named):,} named + {plan.concurrent_slots:,} concurrent slots = "
        f"{plan.annual_cost:,.0f} a year against {plan.named_only_annual_cost:,.0f} named-only "
        f"({plan.saving_pct:.1f} % saved)"
    )
    if args.max_denial_rate:
        print(f"replayed denial rate: {100 * plan.denial_rate:.2f} %")
    if plan.target is not None:
        print(
            f"target {100 * plan.target.rate:g} % in every held-out week: pool "
            f"{plan.target.slots:,} against {plan.target.in_sample_slots:,} in-sample "
            f"(+{plan.target.headroom_annual_cost:,.0f} a year)"
        )
    if plan.validation is not None:
        print(f"held out: {len(plan.validation.folds)} weeks")
        for fold in plan.validation.folds:
            print(
                f"  {fold.as_json()['test_start'][:10]}  pool {fold.slots:,}  "
                f"refused {100 * fold.denial_rate:.2f} % of {fold.logins:,} logins, "
                f"{fold.people_refused:,} people, full {fold.full_minutes:.0f} min"
            )
        print(
            f"  mean {100 * plan.validation.mean_denial_rate:.2f} %, worst "
            f"{100 * max(f.denial_rate for f in plan.validation.folds):.2f} %"
        )


if __name__ == "__main__":
    main()
