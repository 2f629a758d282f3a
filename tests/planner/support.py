"""Shared helpers for the planner's tests: small usage logs for Hypothesis, and its settings."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from halo_gate.planner.plan import plan_usage
from halo_gate.planner.usage import UsageLog, usage_from_records

HOUR = 3600
DAY = 86400
MONDAY = 1767571200  # 2026-01-05T00:00:00Z

# Few examples by default; HALO_GATE_PLANNER_EXAMPLES=500 for a longer hunt.
PROPERTY = settings(
    max_examples=int(os.environ.get("HALO_GATE_PLANNER_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

Row = tuple[str, int, int, str]


@st.composite
def records(draw: st.DrawFn, days: int = 6, people: int = 8) -> list[Row]:
    """Sessions of up to ``people`` people over ``days`` days from a Monday, in time order:
    each on a random day and hour, half an hour to nine hours long, idling out or not; someone
    works at noon on the first and the last day, so the record spans them all."""
    count = draw(st.integers(min_value=2, max_value=people))
    last = MONDAY + (days - 1) * DAY
    rows = [("p0", MONDAY + 12 * HOUR, MONDAY + 13 * HOUR, "logout")]
    rows.append(("p0", last + 12 * HOUR, last + 13 * HOUR, "logout"))
    for person in range(count):
        for _ in range(draw(st.integers(min_value=1, max_value=2 * days))):
            day = draw(st.integers(min_value=0, max_value=days - 1))
            hour = draw(st.integers(min_value=6, max_value=20))
            length = draw(st.integers(min_value=1, max_value=18)) * HOUR // 2
            start = MONDAY + day * DAY + hour * HOUR
            idle = draw(st.booleans()) and length >= HOUR
            rows.append((f"p{person}", start, start + length, "idle" if idle else "logout"))
    rows.sort(key=lambda row: row[1])
    return rows


def log_of(rows: list[Row]) -> UsageLog:
    return usage_from_records(rows)


def plan_json(log: UsageLog) -> dict[str, Any]:
    """The plan at the guide's prices, as ``halo-gate plan --json`` prints it."""
    return plan_usage(log, price_named=70, price_concurrent=140).as_json()
