"""Synthetic usage for an organisation profile: seeded, so the same seed gives the same CSV.

How each session ended (``idle`` or ``logout``, see ``Group.idle_share``) is drawn from a
generator of its own, so the sessions' times are those of the same seed without end reasons.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

from .profiles import Group, Profile

HOUR = 3600
DAY = 86400
DEFAULT_START = date(2026, 1, 5)  # a Monday, so weeks line up with workdays
# HALO_GATE_IDLE_TIMEOUT's default: how long an idle session held its slot.
DEFAULT_IDLE_TIMEOUT = 1800


def simulate(
    profile: Profile,
    *,
    days: int,
    seed: int,
    start: date = DEFAULT_START,
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
) -> Iterator[tuple[str, str, int, int, str]]:
    """Sessions ``(person, group, start, end, end_reason)`` (epoch seconds), day by day in time
    order of days; within a day, in the order people were drawn."""
    rng = random.Random(seed)
    endings = random.Random(f"{seed} end reasons")
    origin = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    people = [
        (group, _person_id(group, number), group.shifts[number % len(group.shifts)])
        for group in profile.groups
        for number in range(group.people)
    ]
    for day in range(days):
        weekday = (start.weekday() + day) % 7
        midnight = origin + day * DAY
        for group, person, shift in people:
            if weekday not in group.workdays or rng.random() >= group.presence:
                continue
            for begin, end in _sessions(rng, group, shift, midnight):
                idled = end - begin >= idle_timeout and endings.random() < group.idle_share
                yield person, group.name, begin, end, "idle" if idled else "logout"


def _person_id(group: Group, number: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", group.name.lower()).strip("-")
    return f"{slug}-{number + 1:04d}@example.org"


def _sessions(
    rng: random.Random, group: Group, shift: tuple[float, float], midnight: int
) -> Iterator[tuple[int, int]]:
    first_hour, last_hour = shift
    if last_hour <= first_hour:
        last_hour += 24
    # Local shift times to UTC: local = UTC + offset.
    shift_start = midnight + int((first_hour - group.utc_offset) * HOUR)
    shift_end = midnight + int((last_hour - group.utc_offset) * HOUR)
    if group.whole_shift:
        login = shift_start + int(rng.gauss(0, 600))
        logout = shift_end + int(rng.gauss(0, 900))
        if rng.random() < 0.5:
            # A break mid-shift: the session ends and a new one starts after lunch.
            pause = (login + logout) // 2 + int(rng.uniform(-1800, 1800))
            back = pause + int(rng.uniform(900, 3600))
            yield login, pause
            yield back, logout
        else:
            yield login, logout
        return
    for _ in range(_poisson(rng, group.sessions_per_day)):
        length = max(120, int(rng.expovariate(1 / (group.session_minutes * 60))))
        latest = max(shift_start, shift_end - length)
        begin = rng.randint(shift_start, latest)
        yield begin, min(begin + length, shift_end + HOUR)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: means here are small (a few logins a day).
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
