"""Replaying recorded logins against a smaller pool, for ``--max-denial-rate``.

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
every login refused by ``s + 1`` is refused by ``s``.
"""

from __future__ import annotations

import heapq

import numpy as np

from .usage import Times


def refused_logins(start: Times, end: Times, slots: int) -> int:
    """How many of the logins (already merged per person) a pool of ``slots`` refuses."""
    order = np.lexsort((np.arange(start.size), start))
    held: list[int] = []  # ends of the admitted logins still holding a slot
    refused = 0
    for begin, finish in zip(start[order].tolist(), end[order].tolist(), strict=True):
        while held and held[0] <= begin:
            heapq.heappop(held)
        if len(held) < slots:
            heapq.heappush(held, finish)
        else:
            refused += 1
    return refused


def denial_rate(start: Times, end: Times, slots: int) -> float:
    return refused_logins(start, end, slots) / start.size if start.size else 0.0


def smallest_pool(start: Times, end: Times, max_rate: float, peak: int) -> int:
    """The smallest pool whose denial rate is at most ``max_rate`` (``peak`` refuses none)."""
    allowed = max_rate * start.size + 1e-9
    low, high = 0, peak  # refused(high) <= allowed always; find the least such
    while low < high:
        middle = (low + high) // 2
        if refused_logins(start, end, middle) <= allowed:
            high = middle
        else:
            low = middle + 1
    return high
