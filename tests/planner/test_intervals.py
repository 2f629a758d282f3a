"""Merging, the sweep, and the instants where the set of people online is maximal."""

from __future__ import annotations

import itertools
import random

import numpy as np

from halo_gate.planner.intervals import load_at, members_at, merge_sessions, sweep
from halo_gate.planner.usage import usage_from_records


def test_merging_joins_overlapping_and_touching_sessions_per_person() -> None:
    log = usage_from_records(
        [("a", 0, 5), ("b", 3, 4), ("a", 5, 8), ("a", 2, 3), ("a", 10, 12), ("b", 4, 4)]
    )
    merged = merge_sessions(log)
    got = sorted(
        (merged.people[o], s, e)
        for o, s, e in zip(merged.owner, merged.start, merged.end, strict=True)
    )
    assert got == [("a", 0, 8), ("a", 10, 12), ("b", 3, 4)]


def test_sweep_and_maximal_instants_match_a_direct_count() -> None:
    rng = random.Random(3)
    for _ in range(50):
        pairs = [(s, s + rng.randint(1, 8)) for s in (rng.randint(0, 30) for _ in range(12))]
        start = np.array([p[0] for p in pairs], dtype=np.int64)
        end = np.array([p[1] for p in pairs], dtype=np.int64)
        steps = sweep(start, end)
        for moment in range(-1, 40):
            online = {i for i, (s, e) in enumerate(pairs) if s <= moment < e}
            k = np.searchsorted(steps.times, moment, side="right") - 1
            assert (int(steps.load[k]) if k >= 0 else 0) == len(online)
        assert steps.peak == max(load_at(start, end, np.arange(40)))
        # Every instant's set of people lies within the set at some maximal instant.
        maximal = steps.times[steps.maximal]
        rows, intervals = members_at(start, end, maximal)
        sets = [set(intervals[rows == r].tolist()) for r in range(maximal.size)]
        for moment in range(40):
            online = {i for i, (s, e) in enumerate(pairs) if s <= moment < e}
            assert any(online <= clique for clique in sets)
        assert not any(a < b for a, b in itertools.permutations(sets, 2))
