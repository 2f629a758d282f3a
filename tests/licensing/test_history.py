"""Usage over time for the console: capacity as it was, the line's length per minute, and
hours rolled up once they are over (time moved with the engine's clock offset)."""

from __future__ import annotations

from halo_gate.licensing import LicenceEngine

HOUR = 3600


async def test_capacity_changes_are_recorded_once_each(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=3, named_seats=1)
    await engine.configure(concurrent_seats=3, named_seats=1)  # another worker starting
    engine.clock_offset += HOUR
    await engine.resize(concurrent_seats=5)
    await engine.resize(concurrent_seats=5)
    series = await engine.history.series("24h")
    assert [(c.concurrent, c.named) for c in series.changes] == [(3, 1), (5, 1)]
    assert 3599 <= series.changes[1].at - series.changes[0].at <= 3601
    # Two days later the 24 hours begin with the capacity then in force, dated before them.
    engine.clock_offset += 48 * HOUR
    later = await engine.history.series("24h")
    assert [(c.concurrent, c.named) for c in later.changes] == [(5, 1)]
    assert later.changes[0].at < later.points[0].at


async def test_the_line_length_is_kept_per_minute(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    await engine.admit("holder@x.org", "h")
    for i in range(3):
        decision = await engine.admit(f"w{i}@x.org", f"w{i}")
        assert decision.position == i + 1
    await engine.admit("w0@x.org", "w0-again")  # a poll at place 1 does not lower it
    series = await engine.history.series("24h")
    assert series.points[-1].queue == 3 and series.points[-1].denials == 3
    assert series.points[-1].admissions == 1 and series.points[-1].peak == 1
    assert all(p.queue == 0 for p in series.points[:-1])


async def test_hours_are_rolled_up_once_over_and_read_from_the_rollup(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=5, named_seats=0)
    for i in range(3):
        await engine.admit(f"p{i}@x.org", f"s{i}")
    admitted_at = int(await engine.reads.now())
    week = await engine.history.series("7d")
    assert len(week.points) == 168 and week.step == HOUR
    assert week.points[-1].admissions == 3 and week.points[-1].peak == 3
    engine.clock_offset += 2 * HOUR
    week = await engine.history.series("7d")
    hour = next(p for p in week.points if p.at <= admitted_at < p.at + HOUR)
    assert (hour.admissions, hour.peak) == (3, 3)
    day = admitted_at // 86400
    assert await engine.store.hget(engine.keys.rollup(day), str(admitted_at // HOUR % 24))
    # The rollup, not the per-minute history, answers from now on.
    await engine.store.delete(engine.keys.history(day))
    again = await engine.history.series("7d")
    assert next(p for p in again.points if p.at == hour.at).admissions == 3
    month = await engine.history.series("30d")
    assert len(month.points) == 180 and sum(p.admissions for p in month.points) == 3
