"""How long planning takes on 10,000 people x 90 days, and the memory it needs.

    python benchmarks/planner.py [--scale 20] [--days 90] [--seed 1] [--max-denial-rate R]

The usage is the guide's organisation scaled to 10,000 people (``halo-gate simulate --scale
20``), written to CSV by a child process so that this process's peak memory is the planner's:
reading the CSV and planning, which are timed separately.
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

        began = time.perf_counter()
        log = read_usage_file(usage)
        read = time.perf_counter() - began
        began = time.perf_counter()
        plan = plan_usage(
            log,
            price_named=70,
            price_concurrent=140,
            price_named_only=100,
            max_denial_rate=args.max_denial_rate,
        )
        planned = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"usage: {plan.people:,} people, {plan.sessions:,} sessions over {args.days} days")
    print(f"  (simulated in {simulated:.1f} s, {size / 2**20:.0f} MiB of CSV)")
    print(f"read CSV:   {read:6.1f} s")
    print(f"plan:       {planned:6.1f} s  (proof: {plan.proof})")
    print(f"total:      {read + planned:6.1f} s on {os.cpu_count()} CPUs")
    print(f"peak memory (max RSS of this process): {peak_kib / 1024:.0f} MiB")
    print(
        f"result: {len(plan.named):,} named + {plan.concurrent_slots:,} concurrent slots = "
        f"{plan.annual_cost:,.0f} a year against {plan.named_only_annual_cost:,.0f} named-only "
        f"({plan.saving_pct:.1f} % saved)"
    )
    if args.max_denial_rate:
        print(f"replayed denial rate: {100 * plan.denial_rate:.2f} %")


if __name__ == "__main__":
    main()
