"""Replaying recorded logins against a pool, for ``--max-denial-rate`` and the backtest.

Replay, precisely: each person's sessions are merged first, and each merged interval is one
login (the person holds one slot from its start to its end). The logins of the people not named
are taken in order of start time (at equal times, intervals ending then are released first,
since intervals are half-open; logins starting at the same instant go in the recorded order).
A login is admitted if fewer than ``s`` slots are held at its start, and then holds a slot until
its end; otherwise it is refused and its interval is dropped (the person does not retry). The
denial rate is refused logins / all logins (0 when there are none).

A larger pool refuses no more logins, so the smallest pool is found by bisection. Proof: let
``H(t)`` be the logins held at ``t`` by a pool of ``s`` and ``H'(t)`` by a pool of ``s + 1``. By
induction over the events, ``H(t)`` is a subset of ``H'(t)`` with at most one login to spare.
An arrival admitted by ``s`` finds ``|H| < s``, so ``|H'| <= s``: admitted by ``s + 1`` too.
An arrival refused by ``s`` but admitted by ``s + 1`` finds ``|H| = s = |H'|``, so ``H = H'`` and
afterwards one login is spare. An arrival refused by ``s + 1`` finds ``|H'| = s + 1``, so
``|H| >= s``: refused by ``s`` too. A departure leaves both sets or only the spare one. So
every login refused by ``s + 1`` is refused by ``s``. This holds login by login, so it holds
for any subset of the logins counted (the backtest counts only those inside a held-out week).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from .usage import Mask, Times


def refusals(start: Times, end: Times, slots: int) -> Mask:
    """Which of the logins (already merged per person) a pool of ``slots`` refuses."""
    refused = np.zeros(start.size, dtype=np.bool_)
    order = np.lexsort((np.arange(start.size), start))
    held: list[int] = []  # ends of the admitted logins still holding a slot
    starts, ends = start[order].tolist(), end[order].tolist()
    for login, begin, finish in zip(order.tolist(), starts, ends, strict=True):
        while held and held[0] <= begin:
            heapq.heappop(held)
        if len(held) < slots:
            heapq.heappush(held, finish)
        else:
            refused[login] = True
    return refused


def refused_logins(start: Times, end: Times, slots: int, counted: Mask | None = None) -> int:
    """How many logins a pool of ``slots`` refuses, among the ``counted`` ones (default all)."""
    refused = refusals(start, end, slots)
    return int((refused if counted is None else refused & counted).sum())


def denial_rate(start: Times, end: Times, slots: int) -> float:
    return refused_logins(start, end, slots) / start.size if start.size else 0.0


def smallest_pool(
    start: Times,
    end: Times,
    max_rate: float,
    peak: int,
    counted: Mask | None = None,
    guess: int | None = None,
) -> int:
    """The smallest pool refusing at most a share ``max_rate`` of the ``counted`` logins
    (default all); ``peak`` must refuse none. A ``guess`` near the answer saves replays."""
    logins = start.size if counted is None else int(counted.sum())
    allowed = max_rate * logins + 1e-9
    return least(
        lambda slots: refused_logins(start, end, slots, counted) <= allowed,
        peak if guess is None else guess,
        peak,
    )


def least(holds: Callable[[int], bool], guess: int, high: int, low: int = 0) -> int:
    """The least ``s`` in ``[low, high]`` for which ``holds(s)``, where ``holds`` is false and
    then true as ``s`` grows and ``holds(high)`` is true. Gallops from ``guess`` (steps of 1,
    2, 4, ...) to bracket the answer, then bisects: about ``2 log2 |answer - guess|`` calls."""
    guess = min(max(guess, low), high)
    if holds(guess):
        high, step = guess, 1
        while high - step >= low and holds(high - step):
            high, step = high - step, 2 * step
        low = max(low, high - step + 1)
    else:
        low, step = guess + 1, 1
        while guess + step < high and not holds(guess + step):
            low, step = guess + step + 1, 2 * step
        high = min(high, guess + step)
    while low < high:  # holds(high); not holds(low - 1) unless low is the range's start
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle + 1
    return high
