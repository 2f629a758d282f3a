"""Recorded usage: sessions read from CSV (or handed over as records) into compact arrays.

The planner needs only who was online when. Any CSV with a header naming at least ``person``,
``start`` and ``end`` fits (``halo-gate export`` and ``halo-gate simulate`` both write one); an
``end_reason`` column, when there is one, says which sessions idled out (``idle``), which is
what replaying another idle policy needs (see ``policy``); other columns are ignored; a cell an
export protected from spreadsheets (``'=...``) is read as it was before. Times are ISO 8601; a
time without an offset is taken as UTC. Times are kept as whole seconds since the epoch, in
numpy arrays, so that 10,000 people x 90 days stay small.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from .cells import restore

REQUIRED_COLUMNS = ("person", "start", "end")
REASON_COLUMN = "end_reason"
IDLE = "idle"

Times = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


class UsageError(ValueError):
    """Input the planner cannot read; the message is one sentence naming the line."""


@dataclass(frozen=True)
class UsageLog:
    """Sessions as parallel arrays: ``owner[i]`` (an index into ``people``) was online from
    ``start[i]`` to ``end[i]`` (seconds since the epoch, end exclusive). ``idle[i]`` says the
    session ended by idling out; ``idle`` is None when the record does not say how sessions
    ended."""

    people: tuple[str, ...]
    owner: Times
    start: Times
    end: Times
    idle: Mask | None = None

    def __len__(self) -> int:
        return int(self.owner.size)


def parse_time(text: str) -> int:
    """Seconds since the epoch of an ISO 8601 time; naive times are UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 1)


def _rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, str, str, str, str | None]]:
    """(line number, person, start, end, end reason or None when there is no such column)."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise UsageError(f"Line 1 of {source} is not CSV: {exc}.") from None
    if header is None:
        raise UsageError(
            f"Line 1 of {source} is empty: it needs a header naming person, start, end."
        )
    names = [name.strip().lower() for name in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        raise UsageError(
            f"Line 1 of {source} has no {', '.join(missing)} column "
            f"(the header must name person, start and end)."
        )
    person_at, start_at, end_at = (names.index(column) for column in REQUIRED_COLUMNS)
    reason_at = names.index(REASON_COLUMN) if REASON_COLUMN in names else None
    width = len(names)
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != width:
                raise UsageError(
                    f"Line {reader.line_num} of {source} has {len(fields)} fields "
                    f"where the header has {width}."
                )
            reason = None if reason_at is None else restore(fields[reason_at])
            yield (
                reader.line_num,
                restore(fields[person_at]),
                restore(fields[start_at]),
                restore(fields[end_at]),
                reason,
            )
    except csv.Error as exc:
        raise UsageError(f"Line {reader.line_num} of {source} is not CSV: {exc}.") from None


class _Builder:
    """Collects sessions into growing arrays, giving each person a dense index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.owner: list[int] = []
        self.start: list[int] = []
        self.end: list[int] = []
        self.idle: list[bool] = []
        # Whether every session said how it ended (otherwise the log's ``idle`` is None).
        self.reasons = True

    def add(self, person: str, start: int, end: int, reason: str | None = None) -> None:
        key = person.strip().lower()
        number = self.index.setdefault(key, len(self.index))
        self.owner.append(number)
        self.start.append(start)
        self.end.append(end)
        if reason is None:
            self.reasons = False
        self.idle.append(reason is not None and reason.strip().lower() == IDLE)

    def build(self) -> UsageLog:
        return UsageLog(
            people=tuple(self.index),
            owner=np.array(self.owner, dtype=np.int64),
            start=np.array(self.start, dtype=np.int64),
            end=np.array(self.end, dtype=np.int64),
            idle=np.array(self.idle, dtype=np.bool_) if self.reasons else None,
        )


def read_usage(lines: Iterable[str], source: str = "the usage CSV") -> UsageLog:
    """Sessions from CSV text lines; raises :class:`UsageError` naming the first bad line."""
    builder = _Builder()
    for line, person, start_text, end_text, reason in _rows(lines, source):
        if not person.strip():
            raise UsageError(f"Line {line} of {source} has an empty person.")
        try:
            start = parse_time(start_text)
        except ValueError:
            raise UsageError(
                f"Line {line} of {source} has a start {start_text!r} that is not an ISO 8601 time."
            ) from None
        try:
            end = parse_time(end_text)
        except ValueError:
            raise UsageError(
                f"Line {line} of {source} has an end {end_text!r} that is not an ISO 8601 time."
            ) from None
        if end < start:
            raise UsageError(
                f"Line {line} of {source} ends ({end_text.strip()}) before it starts "
                f"({start_text.strip()})."
            )
        builder.add(person, start, end, reason)
    return builder.build()


def read_usage_file(path: str | Path) -> UsageLog:
    """Sessions from a CSV file; unreadable or non-text files are a :class:`UsageError` too."""
    source = str(path)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return read_usage(handle, source)
    except UnicodeDecodeError:
        # Count the lines that did decode, so the message can point at the first bad one.
        data = Path(path).read_bytes()
        line = data[: _first_bad_byte(data)].count(b"\n") + 1
        raise UsageError(
            f"Line {line} of {source} is not UTF-8 text, so the file is not CSV."
        ) from None
    except OSError as exc:
        raise UsageError(f"Cannot read {source}: {exc.strerror}.") from None


def _first_bad_byte(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return len(data)


Moment = datetime | int
Record = tuple[str, Moment, Moment] | tuple[str, Moment, Moment, str]


def usage_from_records(records: Iterable[Record]) -> UsageLog:
    """Sessions from ``(person, start, end)`` records, or ``(person, start, end, end_reason)``
    as the session record has them: datetimes (naive = UTC) or epoch seconds."""
    builder = _Builder()
    for number, record in enumerate(records, start=1):
        person, start, end = record[0], record[1], record[2]
        start_s, end_s = _seconds(start), _seconds(end)
        if end_s < start_s:
            raise UsageError(f"Record {number} ({person}) ends before it starts.")
        builder.add(person, start_s, end_s, record[3] if len(record) == 4 else None)
    return builder.build()


def _seconds(moment: datetime | int) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() // 1)
    return int(moment)


def write_sessions(rows: Iterable[tuple[str, str, int, int, str]], handle: TextIO) -> None:
    """Writes ``person,group,start,end,end_reason`` CSV with ISO 8601 UTC times."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["person", "group", "start", "end", REASON_COLUMN])
    for person, group, start, end, reason in rows:
        writer.writerow([person, group, _iso(start), _iso(end), reason])


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
