"""The administrators' ``halo-gate`` subcommands: check, status, licences, sessions, named,
capacity, events, export and recommend.

They read the same ``HALO_GATE_*`` settings as the middleware and call the engine directly;
reading commands print a table by default and JSON with ``--json``. Problems are one sentence
on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from redis.exceptions import RedisError

from ..config import ConfigError, Settings
from ..config.installation import engine_for
from ..config.settings import PREFIX
from ..licensing import LicenceEngine, StoreUnavailable
from ..licensing.records import now
from .check import run_check
from .export import export, iso, period
from .operations import DEFAULT_PAGE, MAX_SEATS, BadRequest, Operations, Refused, seat_count_text
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
    listed = what.add_parser("list", help="the live sessions of a page of licence holders")
    listed.add_argument("--search", default="", help="only people whose name begins with this")
    listed.add_argument("--offset", type=_count, default=0, help="holders to skip (0)")
    listed.add_argument("--limit", type=_count, default=DEFAULT_PAGE, help="holders to show")
    _reading(listed, _sessions_list)
    ended = what.add_parser("end", help="end a session at once on every worker")
    ended.add_argument("session_id")
    ended.set_defaults(run=_runner(_sessions_end))

    licences = sub.add_parser("licences", help="licence holders: list, or end a licence")
    what = licences.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = what.add_parser("list", help="the people holding a licence, with their sessions")
    listed.add_argument("--search", default="", help="only people whose name begins with this")
    listed.add_argument("--offset", type=_count, default=0, help="holders to skip (0)")
    listed.add_argument("--limit", type=_count, default=DEFAULT_PAGE, help="holders to show")
    _reading(listed, _licences_list)
    ended = what.add_parser("end", help="end every session of a person, freeing the licence")
    ended.add_argument("person")
    ended.set_defaults(run=_runner(_licences_end))

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
    resize = what.add_parser(
        "set", help="set --concurrent, --named, --reserve and/or --cap (the rest are kept)"
    )
    resize.add_argument("--concurrent", type=_seats, help="concurrent slots")
    resize.add_argument("--named", type=_seats, help="named seats")
    resize.add_argument(
        "--reserve", metavar="RULES", help='slots kept for groups, "group=N,..." ("none" removes)'
    )
    resize.add_argument(
        "--cap", metavar="RULES", help='the most slots per group, "group=N,..." ("none" removes)'
    )
    resize.set_defaults(run=_runner(_capacity_set))

    events = sub.add_parser("events", help="the audit log, newest first")
    events.add_argument("--person", help="only this person's events")
    events.add_argument("--event", help="only this kind (admitted, denied, ended, ...)")
    events.add_argument("--reason", help="only this reason (pool_full, idle, ...)")
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
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return int(text)


def _seats(text: str) -> int:
    try:
        return seat_count_text("seats", text)
    except BadRequest:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number from 0 to {MAX_SEATS:,}"
        ) from None


def _reading(parser: argparse.ArgumentParser, action: Action) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=_runner(action))


def _fail(message: str) -> int:
    print(f"halo-gate: {message}", file=sys.stderr)
    return FAILED


EMBEDDED = (
    "the embedded store lives inside the application's process; set HALO_GATE_REDIS_URL to "
    "the installation's Redis."
)
# Stands in for HALO_GATE_SECRET_KEY when it is not set: these commands sign nothing.
UNUSED_KEY = "not-used-by-the-command-line"


def store_settings() -> Settings:
    """The settings an administrators' command uses: the store's and the installation's
    (instance, retention, prices). The sign-in's (the secret key, the identity source and its
    provider) are never used here, so none is demanded."""
    environ = dict(os.environ)
    environ.setdefault(PREFIX + "SECRET_KEY", UNUSED_KEY)
    return Settings.load(environ, identity="app")


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            settings = store_settings()
        except ConfigError as error:
            return _fail(str(error))
        if settings.redis_url is None:
            # Another process's embedded store cannot be reached: refuse rather than report
            # this command's own empty one.
            return _fail(EMBEDDED)
        return asyncio.run(_with_engine(engine_for(settings), settings, action, args))

    return run


async def _with_engine(
    engine: LicenceEngine, settings: Settings, action: Action, args: argparse.Namespace
) -> int:
    try:
        if not await engine.store.exists(engine.keys.config):
            return _fail(
                f"the store holds no installation named {settings.instance!r} yet "
                f"(HALO_GATE_INSTANCE); it appears when the gateway first starts."
            )
        return await action(Operations(engine, settings), args)
    except (StoreUnavailable, RedisError) as error:
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
    harvested = f", {pool['harvested_24h']} harvested" if pool["harvested_24h"] else ""
    print(
        f"pool         {pool['in_use']} in use of {pool['seats']}; over 24 h: peak "
        f"{pool['peak_24h']}, {pool['denials_24h']} denied{harvested}"
    )
    line = usage["queue"]
    if line["length"]:
        print(f"line         {line['length']} waiting, the first for {line['longest_wait']} s")
    return 0


async def _sessions_list(ops: Operations, args: argparse.Namespace) -> int:
    found = await ops.sessions(search=args.search, offset=args.offset, limit=max(args.limit, 1))
    if args.json:
        return _print_json(found)
    print(f"{'session':<24} {'person':<32} {'licence':<10} {'since':<19} last seen")
    for s in found["sessions"]:
        print(
            f"{s['session_id']:<24} {s['user']:<32} {s['licence']:<10} "
            f"{_when(s['since'])} {_when(s['last_seen'])}"
        )
    print(f"{len(found['sessions'])} sessions shown; {found['total']} licence holders in all")
    return 0


async def _sessions_end(ops: Operations, args: argparse.Namespace) -> int:
    ended = await ops.end_session(args.session_id, by=CLI_BY)
    if ended is None:
        return _fail(f"no live session has id {args.session_id!r}.")
    held = "still holds a licence" if ended["licence_held"] else "holds no licence now"
    print(f"ended session {args.session_id}; {ended['person']} {held}")
    return 0


async def _licences_list(ops: Operations, args: argparse.Namespace) -> int:
    found = await ops.licences(search=args.search, offset=args.offset, limit=max(args.limit, 1))
    if args.json:
        return _print_json(found)
    header = ("person", 32), ("licence", 10), ("group", 12), ("since", 19), ("last active", 19)
    print(" ".join(f"{name:<{width}}" for name, width in header), "sessions")
    for h in found["licences"]:
        devices = ", ".join(f"{s['device']} {s['address']}".strip() for s in h["sessions"])
        print(
            f"{h['person']:<32} {h['licence']:<10} {h['group'] or '-':<12} "
            f"{_when(h['since'])} {_when(h['last_activity'])} {len(h['sessions'])}: {devices}"
        )
    shown = len(found["licences"])
    print(
        f"{shown} of {found['total']} licence holders"
        if shown < found["total"]
        else f"{found['total']} licence holders"
    )
    return 0


async def _licences_end(ops: Operations, args: argparse.Namespace) -> int:
    done = await ops.end_licence(args.person, by=CLI_BY)
    if done is None:
        return _fail(f"{args.person} holds no licence.")
    count = done["sessions_ended"]
    print(f"{done['person']}: {done['licence']} licence freed, {count} sessions ended")
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
    body: dict[str, Any] = {}
    if args.concurrent is not None or args.named is not None:
        body |= {"concurrent_seats": args.concurrent, "named_seats": args.named}
    for name, value in (("pool_reserve", args.reserve), ("pool_cap", args.cap)):
        if value is not None:
            body[name] = "" if value.strip().lower() in ("", "none") else value
    if not body:
        return _fail("give --concurrent N, --named N, --reserve RULES or --cap RULES.")
    result = await ops.resize(body, by=CLI_BY)
    if "concurrent_seats" in result:
        print(f"concurrent slots {result['concurrent_seats']}, named seats {result['named_seats']}")
    if "pool_reserve" in result:
        print(
            f"reserved for groups {result['pool_reserve'] or 'none'}, "
            f"group caps {result['pool_cap'] or 'none'}"
        )
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
    page = await ops.events(
        limit=args.limit, person=args.person, event=args.event, reason=args.reason
    )
    shown = list(reversed(page["events"]))  # oldest first on a terminal, as a log reads
    for event in shown:
        print(json.dumps(event) if args.json else _event_line(event), flush=True)
    if not args.follow:
        return 0
    last = shown[-1]["id"] if shown else None
    while True:
        await asyncio.sleep(FOLLOW_POLL)
        fresh = await ops.events(
            limit=1000, person=args.person, event=args.event, reason=args.reason
        )
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
    if "harvesting" in answer:
        sentence = answer["harvesting"]["sentence"]
        print(f"{sentence[0].upper()}{sentence[1:]}.")
    for person in plan["named"]:
        print(f"  named: {person}")
    return 0
