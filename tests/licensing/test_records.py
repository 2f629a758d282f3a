"""The session record, the audit log and the history, read back (real Redis and fakeredis)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from halo_gate.admin.export import HEADER, export, iso
from halo_gate.licensing import LicenceEngine, Store
from halo_gate.licensing.records import (
    ClosedSession,
    closed_sessions,
    days,
    decode_entry,
    encode_entry,
    events,
    minutes,
    now,
    record_chunks,
    record_length,
    session_record,
)
from tests.conftest import drop_instance, unique_instance

IDLE = 1800
MAX_AGE = 43200


async def record(engine: LicenceEngine) -> list[ClosedSession]:
    today = int(await now(engine)) // 86400
    return [row async for row in closed_sessions(engine, today - 2, today + 2)]


def reasons(rows: list[ClosedSession]) -> dict[str, str]:
    return {row.person: row.end_reason for row in rows}


async def test_every_way_a_session_closes_is_recorded_once(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=2, named_users=["nan@x.org"])
    t0 = int(await now(engine))
    await engine.admit("nan@x.org", "nan-1")
    await engine.admit("lou@x.org", "lou-1")  # the pool's one slot
    await engine.release("lou@x.org", "lou-1")  # logout
    await engine.admit("ida@x.org", "ida-1")  # will idle out
    engine.clock_offset += IDLE + 10
    await engine.admit("ada@x.org", "ada-1")  # culls ida (idle)
    await engine.end_session("ada@x.org", "ada-1", by="root@x.org")  # admin
    await engine.admit("max@x.org", "max-1")
    await engine.unassign("nan@x.org", by="root@x.org")  # nan-1 had idled out already
    rows = await record(engine)
    assert reasons(rows) == {
        "lou@x.org": "logout",
        "ida@x.org": "idle",
        "ada@x.org": "admin",
        "nan@x.org": "idle",  # nan-1 idled out too: nothing renewed it
    }
    ida = next(row for row in rows if row.person == "ida@x.org")
    # An idle session ends when it idled out, not when it was noticed.
    assert ida.licence == "concurrent"
    assert abs(ida.start - t0) <= 1 and ida.end - ida.start == IDLE
    lou = next(row for row in rows if row.person == "lou@x.org")
    assert lou.end - lou.start <= 1


async def test_unassigned_and_max_age_sessions_are_recorded(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=1, named_users=["nan@x.org"])
    await engine.admit("nan@x.org", "nan-1")
    await engine.admit("bob@x.org", "bob-1")  # the pool is full
    await engine.unassign("nan@x.org", by="root@x.org")
    for _ in range(MAX_AGE // (IDLE - 60) + 1):
        engine.clock_offset += IDLE - 60
        await engine.heartbeat("bob@x.org", "bob-1")
    rows = await record(engine)
    assert [(row.person, row.licence, row.end_reason) for row in rows] == [
        ("nan@x.org", "named", "unassigned"),
        ("bob@x.org", "concurrent", "max_age"),
    ]
    bob = rows[1]
    assert bob.end - bob.start == MAX_AGE


async def test_record_keys_expire_with_the_history(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await engine.release("bob@x.org", "bob-1")
    day = int(await now(engine)) // 86400
    ttl = await engine.store.ttl(engine.keys.record(day))
    assert 30 * 86400 < ttl <= 31 * 86400


def test_a_person_may_hold_any_character() -> None:
    row = decode_entry("1700000000 65 lnodd name with spaces 2 3")
    assert row == ClosedSession(
        "odd name with spaces 2 3", "named", 1700000000, 1700000065, "logout"
    )


def test_an_open_session_encodes_like_a_closed_one() -> None:
    for reason in ("open", "logout"):
        row = ClosedSession("odd name 2", "concurrent", 1700000000, 1700000065, reason)
        assert decode_entry(encode_entry(row)) == row


async def test_the_record_is_read_raw_in_chunks_and_counted_without_reading(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    for n in range(7):
        await engine.admit(f"p{n}@x.org", f"s{n}")
        await engine.release(f"p{n}@x.org", f"s{n}")
    today = int(await now(engine)) // 86400
    assert await record_length(engine, today - 30, today) == 7
    raw = [entry async for chunk in record_chunks(engine, today - 30, today) for entry in chunk]
    assert [decode_entry(entry) for entry in raw] == await record(engine)


async def test_export_lists_closed_then_open_sessions(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    await engine.admit("bob@x.org", "bob-1")
    await engine.release("bob@x.org", "bob-1")
    await engine.admit("cat@x.org", "cat-1")
    at = int(await now(engine))
    out = io.StringIO()
    assert await export(engine, out, since=at - 3600, until=at + 3600) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(HEADER) == "person,licence,start,end,end_reason"
    assert lines[1].startswith("bob@x.org,concurrent,") and lines[1].endswith(",logout")
    person, licence, start, end, reason = lines[2].split(",")
    assert (person, licence, reason) == ("cat@x.org", "concurrent", "open")
    assert end == iso(at) or abs(datetime.fromisoformat(end).timestamp() - at) <= 1
    assert datetime.fromisoformat(start).tzinfo == UTC
    # Outside the period: nothing.
    rows = [row async for row in session_record(engine, at + 7200, at + 9000)]
    assert [row.end_reason for row in rows] == []


async def test_events_newest_first_filtered_and_paged(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    for i in range(5):
        await engine.admit("bob@x.org", f"bob-{i}")
        await engine.admit("cat@x.org", f"cat-{i}")
    first = await events(engine, limit=3, person="bob@x.org", event="admitted")
    assert [e["session"] for e in first.events] == ["bob-4", "bob-3", "bob-2"]
    assert first.next_before is not None
    rest = await events(engine, limit=3, person="bob@x.org", before=first.next_before)
    assert [e["session"] for e in rest.events] == ["bob-1", "bob-0"]
    assert rest.next_before is None
    everything = await events(engine, limit=100)
    assert everything.events[-1]["event"] == "resized"  # configure came first
    assert everything.events[0]["session"] == "cat-4"


async def test_unfiltered_pages_read_one_past_the_page_and_filters_stop_at_their_limit(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=50, named_seats=0)
    for i in range(30):
        await engine.admit(f"p{i}@x.org", f"s-{i}")
    page = await events(engine, limit=10)
    assert page.scanned == 10 and page.next_before == page.events[-1]["id"]
    assert [e["session"] for e in page.events] == [f"s-{i}" for i in range(29, 19, -1)]
    tail = await events(engine, limit=10, before=(await events(engine, limit=30)).next_before)
    assert [e["event"] for e in tail.events] == ["resized"] and tail.next_before is None
    # A filter without an index reads at most scan_limit entries and says where it stopped.
    few = await events(engine, limit=5, event="resized", scan_limit=12)
    assert few.events == [] and few.scanned == 12 and few.next_before is not None
    rest = await events(engine, limit=5, event="resized", before=few.next_before)
    assert [e["event"] for e in rest.events] == ["resized"]
    denied = await events(engine, limit=5, reason="admitted")
    assert len(denied.events) == 5 and {e["reason"] for e in denied.events} == {"admitted"}
    # A person's page reads their entries only, through the index by person.
    mine = await events(engine, limit=5, person="p0@x.org")
    assert [e["session"] for e in mine.events] == ["s-0"] and mine.scanned == 1


async def test_a_persons_events_are_read_through_the_index_whatever_else_was_written(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1000, named_seats=0)
    await engine.admit("amy@x.org", "amy-0")
    for i in range(300):
        await engine.admit(f"p{i}@x.org", f"s-{i}")
    await engine.admit("amy@x.org", "amy-1")
    await engine.release("amy@x.org", "amy-1")
    page = await events(engine, limit=2, person="amy@x.org")
    assert [(e["event"], e["session"]) for e in page.events] == [
        ("released", "amy-1"),
        ("admitted", "amy-1"),
    ]
    assert page.scanned == 2 and page.next_before == page.events[-1]["id"]
    rest = await events(engine, limit=2, person="amy@x.org", before=page.next_before)
    assert [e["session"] for e in rest.events] == ["amy-0"] and rest.next_before is None
    assert rest.scanned == 1
    # A person whose name begins another's sees only their own.
    assert (await events(engine, limit=5, person="amy@x.or")).events == []
    admitted = await events(engine, limit=5, person="amy@x.org", event="admitted")
    assert [e["session"] for e in admitted.events] == ["amy-1", "amy-0"]
    # An id without its sequence number stands for the last entry of that millisecond, as in
    # the stream's own ranges.
    later = await events(engine, limit=5, person="amy@x.org", before="9" * 19)
    assert [e["session"] for e in later.events] == ["amy-1", "amy-1", "amy-0"]
    assert (await events(engine, limit=5, person="amy@x.org", before="1")).events == []


async def test_the_index_by_person_forgets_what_the_stream_trimmed(store: Store) -> None:
    instance = unique_instance()
    cap = 200
    engine = LicenceEngine(store, instance=instance, audit_maxlen=cap)
    try:
        await engine.configure(concurrent_seats=5000, named_seats=0)
        await engine.admit("old@x.org", "old-0")
        for i in range(2000):
            await engine.admit(f"p{i}@x.org", f"s-{i}")
        length = await store.xlen(engine.keys.audit)
        indexed = await store.zcard(engine.keys.audit_people)
        # The stream keeps about its cap ('~': a node's worth more); the index, one member per
        # entry kept and at most a sweep's lag of members of trimmed ones.
        assert cap <= length <= cap + 200
        assert length <= indexed <= 2 * cap + 200
        assert (await events(engine, limit=5, person="old@x.org")).events == []
        newest = await events(engine, limit=1, person="p1999@x.org")
        assert [e["session"] for e in newest.events] == ["s-1999"]
    finally:
        await drop_instance(store, instance)


async def test_history_per_minute_and_per_day(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=2, named_seats=0)
    await engine.admit("a@x.org", "a")
    await engine.admit("b@x.org", "b")
    await engine.admit("c@x.org", "c")  # denied
    at = await now(engine)
    series = await minutes(engine, at=at)
    assert len(series) == 1440
    assert series[-1].peak == 2 and series[-1].admissions == 2 and series[-1].denials == 1
    assert all(m.peak is None for m in series[:-1]) or series[-2].peak is not None
    daily = await days(engine, at=at, count=30)
    assert len(daily) == 30
    assert (daily[-1].peak, daily[-1].admissions, daily[-1].denials) == (2, 2, 1)
    assert daily[0].peak == 0
