"""How right the waiting room's estimated wait is, on the simulator's days.

    python benchmarks/wait_estimate.py            # the guide's organisation, 3 weeks, 3 seeds
    python benchmarks/wait_estimate.py --json

The planner's simulator draws each day's sessions (``halo_gate.planner.simulate``); the people
who live in the tool hold named seats and everyone else shares a pool smaller than their peak
(``--pool-share`` of it), so a line forms at the busy hours. The sessions are replayed through
the engine's rules for the pool and the line: a person holds one slot however many sessions
overlap; a freed slot goes to the head of the line, who claims it at their next poll (every
``--poll`` seconds); newcomers join the back while anyone waits; a waiter who has waited longer
than their patience (drawn between 5 and 40 minutes) leaves. Every slot that frees is counted
in its minute, as the scripts count it.

At each poll of each waiter who is eventually let in, the estimate the waiting room would show
is compared with the wait that was still ahead: the old estimate (place x 15 minutes / slots
freed in the last 15 minutes) and the current one (``halo_gate.licensing.estimate``): the
median and 90th percentile of the absolute error, and how often the wait fell in the range.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from halo_gate.licensing.estimate import Holding, estimate_wait  # noqa: E402
from halo_gate.planner.profiles import GUIDE  # noqa: E402
from halo_gate.planner.simulate import simulate  # noqa: E402


@dataclass(frozen=True)
class Seen:
    freed: list[int]  # per minute over the last hour
    slots: int
    day: Holding


Estimator = Callable[[int, Seen], tuple[float, float, float] | None]


def old_estimate(position: int, seen: Seen) -> tuple[float, float, float] | None:
    count = sum(seen.freed[-15:])
    if count == 0:
        return None
    wait = math.ceil(position * 900 / count)
    return wait, wait, wait


def current_estimate(poll: int) -> Estimator:
    def estimate(position: int, seen: Seen) -> tuple[float, float, float] | None:
        found = estimate_wait(position, seen.freed, poll=poll, slots=seen.slots, day=seen.day)
        return None if found is None else (found.typical, found.low, found.high)

    return estimate


def replay(
    sessions: list[tuple[str, int, int]], slots: int, poll: int, seed: int
) -> list[tuple[int, Seen, float]]:
    """(place, what the gateway would read, wait still ahead) at each minute of each waiter
    who was let in, as their page would have shown it."""
    rng = random.Random(seed)
    events: list[tuple[int, int, str, int]] = []  # (time, order, person, end): arrivals
    for n, (person, begin, end) in enumerate(sorted(sessions, key=lambda s: s[1])):
        events.append((begin, n, person, end))
    holding: dict[str, int] = {}  # person -> end of their slot
    ends: list[tuple[int, str]] = []  # heap of (end, person)
    line: deque[tuple[str, int, int]] = deque()  # (person, duration, gives up at)
    freed: dict[int, int] = {}
    level: dict[int, int] = {}  # the most slots held in each minute
    polls: dict[str, list[tuple[int, int]]] = {}  # person -> [(time, place)]
    samples: list[tuple[int, Seen, float]] = []
    tick = 0  # the next minute at which the waiters poll

    def history(at: int) -> Seen:
        """What the gateway reads at ``at``: the last hour's freed slots per minute, and the
        last day's holding (the level carried from minute to minute, as the store records
        it)."""
        minute = at // 60
        held, carried = 0, 0
        for m in range(minute - 1439, minute + 1):
            carried = level.get(m, carried)
            held += carried * 60
        day = sum(freed.get(m, 0) for m in range(minute - 1439, minute + 1))
        recent = [freed.get(m, 0) for m in range(minute - 59, minute + 1)]
        return Seen(recent, slots, Holding(held, day))

    def admit(person: str, start: int, duration: int) -> None:
        holding[person] = start + duration
        level[start // 60] = max(level.get(start // 60, 0), len(holding))
        heapq.heappush(ends, (start + duration, person))

    def step(until: int) -> None:
        """Everything up to ``until``: departures (a freed slot goes to the head of the line,
        who claims it at their next poll), waiters giving up, and a poll a minute."""
        nonlocal tick
        while True:
            due = ends[0][0] if ends else None
            if line and (due is None or tick < due) and tick <= until:
                for place, (waiter, _, gives_up) in enumerate(line, start=1):
                    if gives_up > tick:
                        polls.setdefault(waiter, []).append((tick, place))
                while line and line[0][2] <= tick:
                    polls.pop(line.popleft()[0], None)
                tick += 60
                continue
            if due is None or due > until:
                return
            end, person = heapq.heappop(ends)
            if holding.get(person) != end:
                continue  # extended since
            del holding[person]
            level[end // 60] = max(level.get(end // 60, 0), len(holding) + 1)
            freed[end // 60] = freed.get(end // 60, 0) + 1
            while line and line[0][2] <= end:
                polls.pop(line.popleft()[0], None)
            if line:
                waiter, duration, _ = line.popleft()
                start = end + rng.randint(0, poll)
                admit(waiter, start, duration)
                for when, place in polls.pop(waiter, []):
                    samples.append((place, history(when), start - when))

    for begin, _, person, end in events:
        step(begin)
        if person in holding:
            holding[person] = max(holding[person], end)
            heapq.heappush(ends, (holding[person], person))
        elif any(w[0] == person for w in line):
            continue
        elif not line and len(holding) < slots:
            admit(person, begin, end - begin)
        else:
            if not line:
                tick = (begin // 60 + 1) * 60  # the first poll after joining an empty line
            line.append((person, end - begin, begin + rng.randint(300, 2400)))
    return samples


def errors(samples: list[tuple[int, Seen, float]], estimator: Estimator) -> dict[str, Any]:
    misses, inside, unknown = [], 0, 0
    for place, freed, actual in samples:
        found = estimator(place, freed)
        if found is None:
            unknown += 1
            continue
        typical, low, high = found
        misses.append(abs(typical - actual))
        inside += low <= actual <= high
    known = len(misses)
    return {
        "median_error_s": round(statistics.median(misses)) if misses else None,
        "p90_error_s": round(statistics.quantiles(misses, n=10)[8]) if known > 1 else None,
        "in_range": round(inside / known, 3) if known else None,
        "unknown": unknown,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = GUIDE if args.scale == 1 else GUIDE.scaled(args.scale)
    named = {g.name for g in profile.groups if g.whole_shift}
    samples: list[tuple[int, Seen, float]] = []
    for seed in range(args.seeds):
        drawn = [
            (person, begin, end)
            for person, group, begin, end, _ in simulate(profile, days=args.days, seed=seed)
            if group not in named
        ]
        slots = max(1, round(_peak(drawn) * args.pool_share))
        samples += replay(drawn, slots, args.poll, seed)
    waits = [actual for _, _, actual in samples]
    return {
        "profile": profile.name,
        "days": args.days,
        "seeds": args.seeds,
        "pool_share": args.pool_share,
        "samples": len(samples),
        "median_wait_s": round(statistics.median(waits)) if waits else None,
        "old": errors(samples, old_estimate),
        "current": errors(samples, current_estimate(args.poll)),
    }


def _peak(sessions: list[tuple[str, int, int]]) -> int:
    """The most people holding a session at once."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for person, begin, end in sessions:
        spans.setdefault(person, []).append((begin, end))
    events = []
    for spans_ in spans.values():
        spans_.sort()
        begin, end = spans_[0]
        for b, e in spans_[1:]:
            if b <= end:
                end = max(end, e)
            else:
                events += [(begin, 1), (end, -1)]
                begin, end = b, e
        events += [(begin, 1), (end, -1)]
    held = peak = 0
    for _, delta in sorted(events):
        held += delta
        peak = max(peak, held)
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--days", type=int, default=21, help="simulated days per seed (21)")
    parser.add_argument("--seeds", type=int, default=3, help="simulations (3)")
    parser.add_argument("--pool-share", type=float, default=0.8, help="pool / peak (0.8)")
    parser.add_argument("--poll", type=int, default=10, help="seconds between polls (10)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="head counts x this (0.05: a pool of a few)"
    )
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['profile']}: {result['days']} days x {result['seeds']} seeds, pool "
        f"{result['pool_share']:.0%} of the peak; {result['samples']:,} polls of waiters let in "
        f"(median wait ahead {result['median_wait_s']} s)"
    )
    for name in ("old", "current"):
        e = result[name]
        print(
            f"{name:<8} median error {e['median_error_s']} s, 90th percentile "
            f"{e['p90_error_s']} s, wait in the range {e['in_range']}, unknown {e['unknown']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
