"""An organisation P % larger: recorded people's weeks resampled under new identities.

``round(P % of the people)`` new people are added. Each takes a recorded person as a template
(drawn uniformly, with replacement) and, for each week of the record, one of the template's
whole weeks drawn at random (another week than the one being filled, when there is another),
moved by whole weeks, so the days of the week and the hours stay the template's. So a heavy
user's copy is a heavy user and a night worker's copy works nights, yet no copy is a twin
online at exactly the template's moments in the same week. Weeks start at midnight UTC of the
record's first day; a session belongs to the week it starts in; a moved session starting
after the record's last day is dropped. Seeded: the same seed gives the same organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .cost import exact
from .usage import UsageLog

WEEK = 7 * 86400
DAY = 86400


def added_people(people: int, percent: float) -> int:
    return round(people * percent / 100)


def grow(log: UsageLog, percent: float, seed: int = 0) -> UsageLog:
    """``log`` with ``percent`` % more people (see the module docstring)."""
    added = added_people(len(log.people), percent)
    if added <= 0 or len(log) == 0:
        return log
    rng = np.random.default_rng(seed)
    origin = int(log.start.min()) // DAY * DAY
    horizon = (int(log.start.max()) // DAY + 1) * DAY
    weeks = -(-(horizon - origin) // WEEK)  # to fill, the last one perhaps partial
    whole = max(1, (horizon - origin) // WEEK)  # to draw from
    week = (log.start - origin) // WEEK
    key = log.owner * weeks + week
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]

    template = rng.integers(len(log.people), size=added)
    filled = np.tile(np.arange(weeks), added)  # (new person, week) pairs, person-major
    if whole > 1:
        # Another whole week than the one being filled: draw among the whole - 1 others, and
        # skip over the filled one; a partial last week draws among all whole weeks.
        is_whole = filled < whole
        drawn = (rng.random(filled.size) * np.where(is_whole, whole - 1, whole)).astype(np.int64)
        source = drawn + (is_whole & (drawn >= filled))
    else:
        source = np.zeros(filled.size, dtype=np.int64)
    wanted = np.repeat(template, weeks) * weeks + source
    first = np.searchsorted(sorted_key, wanted, side="left")
    count = np.searchsorted(sorted_key, wanted, side="right") - first
    pick = order[np.repeat(first, count) + _offsets(count)]
    shift = np.repeat((filled - source) * WEEK, count)
    owner = len(log.people) + np.repeat(np.arange(added).repeat(weeks), count)
    start, end = log.start[pick] + shift, log.end[pick] + shift
    keep = start < horizon
    names = _new_names(log.people, added)
    return UsageLog(
        log.people + names,
        np.concatenate((log.owner, owner[keep])),
        np.concatenate((log.start, start[keep])),
        np.concatenate((log.end, end[keep])),
        None if log.idle is None else np.concatenate((log.idle, log.idle[pick][keep])),
    )


def _offsets(count: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """0, 1, ..., count[i] - 1 for each i, concatenated."""
    runs = np.repeat(np.cumsum(count) - count, count)
    offsets: np.ndarray[Any, np.dtype[np.int64]] = np.arange(int(count.sum())) - runs
    return offsets


def _new_names(people: tuple[str, ...], added: int) -> tuple[str, ...]:
    taken = set(people)
    names = []
    for number in range(1, added + 1):
        name = f"new-person-{number:05d}"
        while name in taken:
            name += "+"
        names.append(name)
    return tuple(names)


@dataclass(frozen=True, kw_only=True)
class Growth:
    """What the plan for the grown organisation adds to today's."""

    percent: float
    seed: int
    people_today: int
    people_added: int
    named_today: int
    slots_today: int
    annual_cost_today: float

    def as_json(self, annual_cost: float) -> dict[str, Any]:
        return {
            "percent": self.percent,
            "seed": self.seed,
            "people_today": self.people_today,
            "people_added": self.people_added,
            "today": {
                "named": self.named_today,
                "concurrent_slots": self.slots_today,
                "annual_cost": exact(self.annual_cost_today),
            },
            "extra_annual_cost": exact(annual_cost - self.annual_cost_today),
        }
