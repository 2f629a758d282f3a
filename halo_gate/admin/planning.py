"""The recommendation's planner, in a process of its own: ``python -m halo_gate.admin.planning``.

A gateway worker never plans: it streams the session record into this process and reads back
one line of JSON. The worker bounds the process as it starts (see ``planner_run``: address
space, CPU time, idle scheduling, one thread); an outsized record then fails here with a
reason. The planner itself stops searching after ``time_limit`` seconds and then says how close
to the optimum its split is.

Input (stdin): a line of JSON with ``since``, ``until``, ``prices`` (named, concurrent,
named-only), ``current`` (named, concurrent) and ``time_limit``; then one session per line in
the record's format (``licensing.records``); then ``end <lines>``. Output (stdout): one line of
JSON, ``{"status": "ok", "sessions", "people", "first", "plan"}`` or
``{"status": "failed", "reason"}``, with the process's peak memory (``rss_peak_mib``,
``address_space_peak_mib``).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..licensing.records import decode_entry
from ..planner.optimise import OutOfTime, SolverFailure
from ..planner.plan import Current, plan_usage
from ..planner.usage import usage_from_records

MIB = 2**20


class IncompleteRecord(ValueError):
    """The stream ended before its ``end`` line: the worker or the store failed meanwhile."""


def sessions(lines: Iterator[bytes], since: int, until: int) -> Iterator[tuple[str, int, int]]:
    """``(person, start, end)`` of every entry overlapping [since, until), up to the end line."""
    count = 0
    for line in lines:
        if line.startswith(b"end "):
            if int(line[4:]) != count:
                raise IncompleteRecord(f"The record had {count} sessions, not {int(line[4:])}.")
            return
        count += 1
        entry = decode_entry(line.rstrip(b"\n"))
        if entry.end >= since and entry.start < until:
            yield entry.person, entry.start, entry.end
    raise IncompleteRecord(f"The record stopped after {count} sessions, before its end.")


def plan(stream: BinaryIO) -> dict[str, Any]:
    """The outcome for a parameters line and a record read from ``stream``."""
    params = json.loads(stream.readline())
    log = usage_from_records(sessions(iter(stream), params["since"], params["until"]))
    named, concurrent, named_only = params["prices"]
    result = plan_usage(
        log,
        price_named=named,
        price_concurrent=concurrent,
        price_named_only=named_only,
        current=Current(*params["current"]),
        time_limit=params["time_limit"],
    )
    return {
        "status": "ok",
        "sessions": len(log),
        "people": len(log.people),
        "first": int(log.start.min()),
        "plan": result.as_json(),
    }


def peaks() -> dict[str, int]:
    """This process's peak resident memory and address space so far, MiB."""
    found = {"rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmPeak:"):
                found["address_space_peak_mib"] = int(line.split()[1]) // 1024
    return found


def outcome(stream: BinaryIO) -> dict[str, Any]:
    try:
        return plan(stream)
    except MemoryError:
        memory = resource.getrlimit(resource.RLIMIT_AS)[0]
        reason = f"The planner needed more than its memory bound of {memory // MIB} MiB."
    except OutOfTime:
        reason = "The planner's time limit passed before it had a first bound."
    except SolverFailure as error:
        reason = str(error)
    except (IncompleteRecord, ValueError) as error:
        reason = f"The planner could not read the session record: {error}"
    return {"status": "failed", "reason": reason}


def main() -> None:
    answer = {**outcome(sys.stdin.buffer), **peaks()}
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
