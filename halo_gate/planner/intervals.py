"""Who is online when: per-person merging, the concurrency sweep, and the moments that matter.

A person holds one pool slot however many sessions they have open, so each person's sessions are
first merged into disjoint intervals (``[start, end)``; touching intervals merge too, since the
person never left). After merging, the number of people online at an instant is the number of
intervals covering it.

The sweep cuts the timeline at every start and end into *segments* on which the set of people
online is constant. A segment's set is a *maximal clique* (not contained in another segment's set)
only if someone arrives at its left edge and someone leaves at its right edge; every other
segment's set is contained in one of those. A constraint "at most k of these people" therefore
only needs checking at the left edges of those segments: ``peak_moments``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .usage import Times, UsageLog

Mask = npt.NDArray[np.bool_]


def merge_sessions(log: UsageLog) -> UsageLog:
    """Each person's overlapping or touching sessions joined; zero-length ones dropped; the
    result sorted by person, then start."""
    keep = log.end > log.start
    owner, start, end = log.owner[keep], log.start[keep], log.end[keep]
    if owner.size == 0:
        return UsageLog(log.people, owner, start, end)
    order = np.lexsort((start, owner))
    owner, start, end = owner[order], start[order], end[order]
    reach = _running_max_per_owner(owner, end)
    # A session opens a new interval unless an earlier one of the same person reaches it.
    opens = np.ones(owner.size, dtype=np.bool_)
    opens[1:] = (owner[1:] != owner[:-1]) | (start[1:] > reach[:-1])
    first = np.flatnonzero(opens)
    last = np.append(first[1:], owner.size) - 1
    return UsageLog(log.people, owner[first], start[first], reach[last])


def _running_max_per_owner(owner: Times, end: Times) -> Times:
    """The running maximum of ``end`` restarted at each new owner (owners are sorted)."""
    base = int(end.min())
    span = int(end.max()) - base + 1
    if span * (int(owner.max()) + 1) < 2**62:
        # Lifting each owner above every earlier one makes a single running max segmented.
        lifted = owner * span + (end - base)
        return np.maximum.accumulate(lifted) - owner * span + base
    reach = end.copy()
    for i in range(1, reach.size):
        if owner[i] == owner[i - 1] and reach[i - 1] > reach[i]:
            reach[i] = reach[i - 1]
    return reach


@dataclass(frozen=True)
class Sweep:
    """The concurrency step function: ``load[k]`` people online on ``[times[k], times[k+1])``."""

    times: Times
    load: Times
    # True where a segment's set of people is a maximal clique (see the module docstring).
    maximal: Mask

    @property
    def peak(self) -> int:
        return int(self.load.max()) if self.load.size else 0


def sweep(start: Times, end: Times) -> Sweep:
    """The step function of disjoint-per-person intervals (ends before starts at equal times:
    intervals are half-open)."""
    if start.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Sweep(empty, empty, np.zeros(0, dtype=np.bool_))
    times = np.concatenate((start, end))
    step = np.concatenate((np.ones(start.size, np.int64), -np.ones(end.size, np.int64)))
    order = np.lexsort((step, times))
    times, step = times[order], step[order]
    load_after = np.cumsum(step)
    last_at_time = np.ones(times.size, dtype=np.bool_)
    last_at_time[:-1] = times[1:] != times[:-1]
    group_end = np.flatnonzero(last_at_time)
    group_start = np.concatenate(([0], group_end[:-1] + 1))
    unique_times = times[group_end]
    load = load_after[group_end]
    # Within a time group ends sort first, so the group has a start iff its last step is +1,
    # and an end iff its first step is -1.
    has_start = step[group_end] > 0
    has_end = step[group_start] < 0
    maximal = np.zeros(unique_times.size, dtype=np.bool_)
    maximal[:-1] = has_start[:-1] & has_end[1:]
    return Sweep(unique_times, load, maximal)


def load_at(start: Times, end: Times, moments: Times) -> Times:
    """How many of the intervals cover each moment (``start <= t < end``)."""
    starts, ends = np.sort(start), np.sort(end)
    covering = np.searchsorted(starts, moments, side="right") - np.searchsorted(
        ends, moments, side="right"
    )
    return covering.astype(np.int64)


def members_at(
    start: Times, end: Times, moments: Times
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Incidence of sorted ``moments`` and intervals: pairs (moment index, interval index) with
    the interval covering the moment."""
    first = np.searchsorted(moments, start, side="left")
    past = np.searchsorted(moments, end, side="left")
    counts = past - first
    interval = np.repeat(np.arange(start.size), counts)
    # Moment indices run first..past-1 for each interval: offsets within each run added to first.
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    moment = np.repeat(first, counts) + (np.arange(interval.size) - run_start)
    return moment.astype(np.intp), interval.astype(np.intp)
