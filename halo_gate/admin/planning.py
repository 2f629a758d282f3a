"""The recommendation's planner, in a process of its own: ``python -m halo_gate.admin.planning``.

A gateway worker never plans: it streams the session record into this process and reads back
one line of JSON. The worker bounds the process as it starts (see ``planner_run``: address
space, CPU time, idle scheduling, one thread); an outsized record then fails here with a
reason. The planner itself stops searching after ``time_limit`` seconds and then says how close
to the optimum its split is.

Input (stdin): a line of JSON with ``since``, ``until``, ``prices`` (named, concurrent,
named-only), ``current`` (named, concurrent), ``time_limit`` and, optionally, ``harvesting``
(``harvest_idle``, ``enabled``, ``idle_timeout``, ``currency``); then one session per line in
the record's format (``licensing.records``); then ``end <lines>``. Output (stdout): one line of
JSON, ``{"status": "ok", "sessions", "people", "first", "plan"}`` (and ``harvesting``: what
harvesting after ``harvest_idle`` seconds would have saved on the same record, when it could
be told; see ``harvesting()``) or ``{"status": "failed", "reason"}``, with the process's peak
memory (``rss_peak_mib``, ``address_space_peak_mib``).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..licensing.records import decode_entry
from ..planner.optimise import OutOfTime, SolverFailure
from ..planner.plan import Current, Plan, plan_usage
from ..planner.policy import Policy, minutes, policy_saving
from ..planner.usage import UsageLog, usage_from_records

MIB = 2**20


class IncompleteRecord(ValueError):
    """The stream ended before its ``end`` line: the worker or the store failed meanwhile."""


def sessions(lines: Iterator[bytes], since: int, until: int) -> Iterator[tuple[str, int, int, str]]:
    """``(person, start, end, end_reason)`` of every entry overlapping [since, until), up to
    the end line."""
    count = 0
    for line in lines:
        if line.startswith(b"end "):
            if int(line[4:]) != count:
                raise IncompleteRecord(f"The record had {count} sessions, not {int(line[4:])}.")
            return
        count += 1
        entry = decode_entry(line.rstrip(b"\n"))
        if entry.end >= since and entry.start < until:
            yield entry.person, entry.start, entry.end, entry.end_reason
    raise IncompleteRecord(f"The record stopped after {count} sessions, before its end.")


def plan(stream: BinaryIO) -> dict[str, Any]:
    """The outcome for a parameters line and a record read from ``stream``."""
    params = json.loads(stream.readline())
    log = usage_from_records(sessions(iter(stream), params["since"], params["until"]))
    named, concurrent, named_only = params["prices"]
    began = time.monotonic()
    result = plan_usage(
        log,
        price_named=named,
        price_concurrent=concurrent,
        price_named_only=named_only,
        current=Current(*params["current"]),
        time_limit=params["time_limit"],
    )
    answer = {
        "status": "ok",
        "sessions": len(log),
        "people": len(log.people),
        "first": int(log.start.min()),
        "plan": result.as_json(),
    }
    if params.get("harvesting"):
        # The plan's searches and the saving's share one time limit: the plan comes first.
        left = params["time_limit"] - (time.monotonic() - began)
        saving = harvesting(log, params["harvesting"], result, left)
        if saving is not None:
            answer["harvesting"] = saving
    return answer


def harvesting(
    log: UsageLog, params: dict[str, Any], plan: Plan, time_limit: float
) -> dict[str, Any] | None:
    """What harvesting after ``harvest_idle`` seconds would have saved on ``log``, recorded
    with ``idle_timeout``, against ``plan``'s split: ``PolicySaving.as_json`` less the idle
    timeout (always the one in force here), with ``enabled``, whether the installation
    harvests. None when that cannot be told: a threshold not below the idle timeout, no time
    left, a search that did not finish, or a plan not proven optimal; the plan stands without
    it.

    With harvesting on, the record already ends the sessions harvested, but counts every other
    idle holder's slot as held until the idle timeout, and so does the plan made on it: then
    the sentence says how much smaller a split would have served the same sessions."""
    threshold, timeout = params["harvest_idle"], params["idle_timeout"]
    if not 0 < threshold < timeout or time_limit <= 0:
        return None
    try:
        saving = policy_saving(
            log,
            Policy(harvest_idle=threshold),
            recorded_idle_timeout=timeout,
            price_named=plan.price_named,
            price_concurrent=plan.price_concurrent,
            time_limit=time_limit,
            recorded=plan.fitted,
        )
    except (OutOfTime, SolverFailure, MemoryError):
        return None
    if not saving.exact:
        return None
    found = saving.as_json(params["currency"]) | {"enabled": params["enabled"]}
    del found["idle_timeout"]  # always the one in force here
    if params["enabled"]:
        found["sentence"] = (
            f"harvesting after {minutes(threshold)} is on: with it, the sessions recorded "
            f"needed {saving.needs()} than the split above"
        )
        if saving.fewer_slots or saving.fewer_named:
            found["sentence"] += (
                ", which counts an idle slot as held until the idle timeout "
                f"({saving.cost(params['currency'])})"
            )
    return found


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
