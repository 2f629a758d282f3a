"""Replaying logins against a pool: the rules in ``replay``'s docstring, and monotonicity."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from halo_gate.planner.replay import denial_rate, least, refusals, refused_logins, smallest_pool

from .support import PROPERTY


def arrays(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
    )


def test_a_refused_login_is_dropped_and_frees_nothing_later() -> None:
    # Pool of 1: A holds 0-10; B (2-20) is refused and dropped, so C at 12 gets the slot.
    start, end = arrays([(0, 10), (2, 20), (12, 14)])
    assert refused_logins(start, end, 1) == 1
    assert denial_rate(start, end, 1) == pytest.approx(1 / 3)


def test_a_slot_freed_at_an_instant_serves_a_login_at_that_instant() -> None:
    start, end = arrays([(0, 10), (10, 20)])
    assert refused_logins(start, end, 1) == 0


def test_no_logins_means_no_denials() -> None:
    start, end = arrays([])
    assert denial_rate(start, end, 0) == 0.0
    assert smallest_pool(start, end, 0.1, 0) == 0


@pytest.mark.parametrize("seed", range(30))
def test_a_bigger_pool_refuses_no_more_logins(seed: int) -> None:
    rng = random.Random(seed)
    pairs = []
    for _ in range(rng.randint(1, 40)):
        begin = rng.randint(0, 100)
        pairs.append((begin, begin + rng.randint(1, 30)))
    start, end = arrays(pairs)
    refused = [refused_logins(start, end, slots) for slots in range(len(pairs) + 1)]
    assert all(later <= earlier for earlier, later in zip(refused, refused[1:], strict=False))
    assert refused[-1] == 0
    for rate in (0.0, 0.05, 0.2, 0.5):
        pool = smallest_pool(start, end, rate, len(pairs))
        # The smallest pool meeting the rate: it does, and one slot fewer does not.
        assert refused[pool] <= rate * len(pairs) + 1e-9
        assert pool == 0 or refused[pool - 1] > rate * len(pairs)


@PROPERTY
@given(
    st.integers(0, 5),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(-5, 70),
)
def test_least_gallops_to_the_first_pool_that_holds(
    low: int, span: int, answer: int, guess: int
) -> None:
    high = low + span
    answer = low + answer % (span + 1)
    asked: list[int] = []

    def holds(slots: int) -> bool:
        assert low <= slots <= high
        asked.append(slots)
        return slots >= answer

    assert least(holds, guess, high, low) == answer
    # About 2 log2 of the distance from the guess, and never a scan.
    assert len(asked) <= 2 * (abs(answer - guess).bit_length() + 1) + 1


def test_only_counted_logins_count() -> None:
    # Pool of one: the first login holds the slot; the two after it are refused.
    start, end = arrays([(0, 10), (2, 5), (4, 8)])
    counted = np.array([False, False, True])
    assert refusals(start, end, 1).tolist() == [False, True, True]
    assert refused_logins(start, end, 1, counted) == 1
    # Half of the one counted login: none may be refused, which takes three slots; half of all
    # three logins: one may be, and two slots refuse only the third.
    assert smallest_pool(start, end, 0.5, 3, counted) == 3
    assert smallest_pool(start, end, 0.5, 3) == 2
