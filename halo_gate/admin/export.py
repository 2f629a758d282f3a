"""The session record as CSV: ``person,licence,start,end,end_reason``, times ISO 8601 UTC.

``halo-gate plan`` reads it as it is (it needs person, start and end; the rest it ignores).
Cells a spreadsheet would run as formulas are written with a leading ``'`` (see
``halo_gate.planner.cells``), which ``plan`` takes off again.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO

from ..licensing import LicenceEngine
from ..licensing.records import ClosedSession, session_record
from ..planner.cells import neutralise

HEADER = ("person", "licence", "start", "end", "end_reason")


def iso(seconds: float) -> str:
    """``2026-11-28T09:30:00Z``."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def period(
    since: date | None, until: date | None, *, history_days: int, today: date
) -> tuple[int, int]:
    """[start, end) in epoch seconds for dates ``since`` to ``until`` inclusive; by default the
    whole retention (``history_days`` days up to today)."""
    first = since or today - timedelta(days=history_days)
    last = until or today
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    return int(start.timestamp()), int(end.timestamp())


async def write_csv(rows: AsyncIterator[ClosedSession], out: TextIO) -> int:
    """Writes the header and one line per session; returns how many sessions."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    async for row in rows:
        cells = (row.person, row.licence, iso(row.start), iso(row.end), row.end_reason)
        writer.writerow(tuple(neutralise(cell) for cell in cells))
        count += 1
    return count


async def export(engine: LicenceEngine, out: TextIO, *, since: int, until: int) -> int:
    """The session record of [since, until) as CSV on ``out``; returns how many sessions."""
    return await write_csv(session_record(engine, since, until), out)
