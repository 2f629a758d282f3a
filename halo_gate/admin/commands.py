"""The administrators' ``halo-gate`` subcommands: check, status, sessions, named, capacity,
events, export and recommend.

They read the same ``HALO_GATE_*`` settings as the middleware and call the engine directly;
reading commands print a table by default and JSON with ``--json``. Problems are one sentence
on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from ..config import ConfigError, Settings
from ..installation import engine_for
from ..licensing import LicenceEngine, StoreUnavailable
from ..licensing.records import now
from .check import run_check
from .export import export, iso, period
from .operations import BadRequest, Operations, Refused
from .recommend import Recommender

FAILED = 1
FOLLOW_POLL = 1.0
CLI_BY = "cli"

Action = Callable[[Operations, argparse.Namespace], Awaitable[int]]


def add_commands(sub: Any) -> None:
    check = sub.add_parser("check", help="validate the settings, reach the store and the IdP")
    check.set_defaults(run=run_check)

    status = sub.add_parser("status", help="live usage: named seats and the pool")
    _reading(status, _status)

    sessions = sub.add_parser("sessions", help="live sessions: list, or end one")
    what = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = what.add_parser("list", help="the live sessions")
    listed.add_argument("--search", default="", help="only people whose name contains this")
    _reading(listed, _sessions_list)
    ended = what.add_parser("end", help="end a session at once on every worker")
    ended.add_argument("session_id")
    ended.set_defaults(run=_runner(_sessions_end))

    named = sub.add_parser("named", help="named seats: list, add or remove a person")
    what = named.add_subparsers(dest="action", required=True, metavar="ACTION")
    _reading(what.add_parser("list", help="who holds a named seat"), _named_list)
    for action, helptext, run in (
        ("add", "assign a named seat", _named_add),
        ("remove", "take a named seat back (it cools down)", _named_remove),
    ):
        command = what.add_parser(action, help=helptext)
        command.add_argument("person")
        command.set_defaults(run=_runner(run))

    capacity = sub.add_parser("capacity", help="change the pool's slots or the named seats")
    what = capacity.add_subparsers(dest="action", required=True, metavar="ACTION")
    resize = what.add_parser("set", help="set --concurrent and/or --named")
    resize.add_argument("--concurrent", type=_count, help="concurrent slots")
    resize.add_argument("--named", type=_count, help="named seats")
    resize.set_defaults(run=_runner(_capacity_set))

    events = sub.add_parser("events", help="the audit log, newest first")
    events.add_argument("--person", help="only this person's events")
    events.add_argument("--event", help="only this kind (admitted, denied, ended, ...)")
    events.add_argument("--limit", type=_count, default=50)
    events.add_argument("--follow", action="store_true", help="then print new events as they come")
    _reading(events, _events)

    exported = sub.add_parser("export", help="the session record as CSV for `halo-gate plan`")
    exported.add_argument("--since", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
    exported.add_argument("--until", type=date.fromisoformat, help="last day (YYYY-MM-DD)")
    exported.add_argument("--output", default="-", help="CSV file (default: stdout)")
    exported.set_defaults(run=_runner(_export))

    recommend = sub.add_parser("recommend", help="the named/concurrent split from live usage")
    _reading(recommend, _recommend)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return int(text)


def _reading(parser: argparse.ArgumentParser, action: Action) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=_runner(action))


def _fail(message: str) -> int:
    print(f"halo-gate: {message}", file=sys.stderr)
    return FAILED


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            settings = Settings.load()
        except ConfigError as error:
            return _fail(str(error))
        return asyncio.run(_with_engine(engine_for(settings), settings, action, args))

    return run


async def _with_engine(
    engine: LicenceEngine, settings: Settings, action: Action, args: argparse.Namespace
) -> int:
    try:
        return await action(Operations(engine, settings), args)
    except StoreUnavailable as error:
        return _fail(f"the licence store did not answer ({error}).")
    except BadRequest as error:
        return _fail(str(error))
    finally:
        await engine.store.aclose()


def _print_json(data: Any) -> int:
    print(json.dumps(data))
    return 0


def _when(seconds: float) -> str:
    return iso(seconds).replace("T", " ")


async def _status(ops: Operations, args: argparse.Namespace) -> int:
    usage = await ops.usage()
    if args.json:
        return _print_json(usage)
    named, pool = usage["named"], usage["concurrent"]
    print(
        f"named seats  {named['assigned']} assigned of {named['seats']}, "
        f"{named['active']} signed in, {named['quarantined']} cooling down"
    )
    print(
        f"pool         {pool['in_use']} in use of {pool['seats']}; over 24 h: peak "
        f"{pool['peak_24h']}, {pool['denials_24h']} denied"
    )
    line = usage["queue"]
    if line["length"]:
        print(f"line         {line['length']} waiting, the first for {line['longest_wait']} s")
    return 0


async def _sessions_list(ops: Operations, args: argparse.Namespace) -> int:
    found = await ops.sessions(search=args.search, limit=10**9)
    if args.json:
        return _print_json(found)
    print(f"{'session':<24} {'person':<32} {'licence':<10} {'since':<19} last seen")
    for s in found["sessions"]:
        print(
            f"{s['session_id']:<24} {s['user']:<32} {s['licence']:<10} "
            f"{_when(s['since'])} {_when(s['last_seen'])}"
        )
    print(f"{found['total']} live sessions")
    return 0


async def _sessions_end(ops: Operations, args: argparse.Namespace) -> int:
    if not await ops.end_session(args.session_id, by=CLI_BY):
        return _fail(f"no live session has id {args.session_id!r}.")
    print(f"ended session {args.session_id}")
    return 0


async def _named_list(ops: Operations, args: argparse.Namespace) -> int:
    seats = await ops.named()
    if args.json:
        return _print_json(seats)
    print(f"{len(seats['assigned'])} of {seats['seats']} named seats assigned")
    for holder in seats["assigned"]:
        print(f"  {holder['person']}{'  (signed in)' if holder['active'] else ''}")
    for cooling in seats["quarantined"]:
        print(f"  cooling down until {_when(cooling['until'])} (was {cooling['person']})")
    return 0


async def _named_add(ops: Operations, args: argparse.Namespace) -> int:
    answer = await ops.assign(args.person, by=CLI_BY)
    if isinstance(answer, Refused):
        if answer.body["error"] == "cooldown":
            return _fail(
                f"no named seat for {args.person}: the free seat cools down until "
                f"{_when(answer.body['until'])}."
            )
        return _fail(f"no named seat is free for {args.person}.")
    print(f"{answer['person']}: {answer['outcome']}")
    return 0


async def _named_remove(ops: Operations, args: argparse.Namespace) -> int:
    if not await ops.unassign(args.person, by=CLI_BY):
        return _fail(f"{args.person} holds no named seat.")
    print(f"{args.person}: unassigned; the seat cools down for {ops.settings.named_cooldown} s")
    return 0


async def _capacity_set(ops: Operations, args: argparse.Namespace) -> int:
    if args.concurrent is None and args.named is None:
        return _fail("give --concurrent N, --named N or both.")
    body = {"concurrent_seats": args.concurrent, "named_seats": args.named}
    result = await ops.resize(body, by=CLI_BY)
    print(f"concurrent slots {result['concurrent_seats']}, named seats {result['named_seats']}")
    return 0


def _event_line(event: dict[str, str]) -> str:
    at = _when(int(event.get("at", "0")) / 1000)
    detail = " ".join(
        f"{name}={event[name]}"
        for name in ("licence", "session", "reason", "in_use", "capacity")
        if event.get(name)
    )
    return f"{at}  {event.get('event', ''):<11} {event.get('user', ''):<28} {detail}"


async def _events(ops: Operations, args: argparse.Namespace) -> int:
    page = await ops.events(limit=args.limit, person=args.person, event=args.event)
    shown = list(reversed(page["events"]))  # oldest first on a terminal, as a log reads
    for event in shown:
        print(json.dumps(event) if args.json else _event_line(event), flush=True)
    if not args.follow:
        return 0
    last = shown[-1]["id"] if shown else None
    while True:
        await asyncio.sleep(FOLLOW_POLL)
        fresh = await ops.events(limit=1000, person=args.person, event=args.event)
        new = [e for e in fresh["events"] if last is None or _after(e["id"], last)]
        for event in reversed(new):
            print(json.dumps(event) if args.json else _event_line(event), flush=True)
        if new:
            last = new[0]["id"]


def _after(first: str, second: str) -> bool:
    a, _, b = first.partition("-")
    c, _, d = second.partition("-")
    return (int(a), int(b or 0)) > (int(c), int(d or 0))


async def _export(ops: Operations, args: argparse.Namespace) -> int:
    today = datetime.fromtimestamp(await now(ops.engine), UTC).date()
    since, until = period(
        args.since, args.until, history_days=ops.settings.history_days, today=today
    )
    if since >= until:
        return _fail("--since must not be after --until.")
    if args.output == "-":
        await export(ops.engine, sys.stdout, since=since, until=until)
        return 0
    with open(args.output, "w", encoding="utf-8", newline="") as out:
        count = await export(ops.engine, out, since=since, until=until)
    print(f"{count} sessions written to {args.output}", file=sys.stderr)
    return 0


async def _recommend(ops: Operations, args: argparse.Namespace) -> int:
    recommender = Recommender(ops.engine, ops.settings)
    answer = await recommender.get()
    if answer["status"] == "computing":
        print("computing the recommendation…", file=sys.stderr, flush=True)
    while answer["status"] == "computing":
        # This process's own run, or another worker's: either ends within its time bound.
        await asyncio.sleep(FOLLOW_POLL)
        answer = await recommender.get()
    if args.json:
        return _print_json(answer.get("plan", answer))
    if answer["status"] != "ok":
        print(answer["message"])
        return 0
    plan = answer["plan"]
    currency = answer["currency"]
    current = plan.get("current", {})
    print(
        f"recommended: {len(plan['named'])} named, {plan['concurrent_slots']} concurrent: "
        f"{plan['annual_cost']:,} {currency} a year"
    )
    if current:
        print(
            f"in force:    {current['named']} named, {current['concurrent']} concurrent: "
            f"{current['annual_cost']:,} {currency} a year (saving {current['saving']:,})"
        )
    print(f"named-only for {plan['people']} people: {plan['named_only_annual_cost']:,} {currency}")
    for person in plan["named"]:
        print(f"  named: {person}")
    return 0
