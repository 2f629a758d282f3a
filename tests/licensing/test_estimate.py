"""The estimated wait: a figure from the slots freed lately, and a range that widens when they
are few."""

from __future__ import annotations

from halo_gate.licensing.estimate import ENOUGH, Holding, estimate_wait

HOUR = [0] * 60


def test_nothing_freed_in_the_hour_gives_no_estimate() -> None:
    assert estimate_wait(1, HOUR, poll=10) is None
    assert estimate_wait(0, [5] * 60, poll=10) is None


def test_a_steady_rate_gives_a_figure_near_place_over_rate() -> None:
    freed = [2] * 60  # 2 a minute: 30 in the last 15 minutes, enough to trust
    found = estimate_wait(10, freed, poll=10)
    assert found is not None and not found.thin
    # The 10th slot to free, at 30 per 870 s: about 290 s, plus half a poll.
    assert 260 <= found.typical <= 300
    assert found.low < found.typical < found.high


def test_few_freed_slots_widen_the_range_and_say_so() -> None:
    thin = estimate_wait(1, [0] * 59 + [1], poll=10)
    steady = estimate_wait(1, [1] * 60, poll=10)
    assert thin is not None and steady is not None
    assert thin.thin and not steady.thin
    assert thin.high / thin.low > steady.high / steady.low
    # The window grows until it holds ENOUGH freed slots: 15 minutes here.
    quick = estimate_wait(1, [0] * 45 + [1] * 15, poll=10)
    assert quick is not None and (quick.thin is (15 < ENOUGH))


def test_the_estimate_grows_with_the_place() -> None:
    freed = [1] * 60
    waits = [estimate_wait(p, freed, poll=10) for p in (1, 2, 5, 20)]
    assert all(w is not None for w in waits)
    typical = [w.typical for w in waits if w is not None]
    assert typical == sorted(typical) and typical[0] < typical[-1]


def test_a_quiet_hour_takes_its_rate_from_the_day_by_littles_law() -> None:
    # 3 slots full; over the day 48 slots freed after 16 hours held in all: 20 minutes each,
    # so a full pool of 3 frees one every 400 s.
    day = Holding(slot_seconds=16 * 3600, freed=48)
    found = estimate_wait(1, [0] * 59 + [1], poll=10, slots=3, day=day)
    assert found is not None and found.thin
    assert 250 <= found.typical <= 300  # the median of an exponential wait of 400 s, + 5 s
    assert found.low < found.typical < found.high
    # With enough freed in the last hour, the hour's own rate is used.
    busy = estimate_wait(1, [1] * 60, poll=10, slots=3, day=day)
    assert busy is not None and not busy.thin and busy.typical < 60
