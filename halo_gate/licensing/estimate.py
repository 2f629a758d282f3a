"""How long a waiter is likely to wait, from the slots freed lately: a typical figure and a
range, the range being what to show while few slots have freed.

Slots free one at a time as holders leave; the waiter at place *p* is served by the *p*-th
slot to free. With slots freeing at a rate λ, the time until the *p*-th is a Gamma(*p*, λ)
variable. λ is read from the recent past: the shortest of the last 15, 30 or 60 minutes that
saw at least ``ENOUGH`` slots freed, else the last 60. The typical figure is the Gamma's median
(plus half a poll: a freed slot is claimed at the waiter's next poll); the range runs from a
low to a high quantile (``Z`` standard deviations either side), each taken at the rate's own
bounds (a Poisson count of *F* slots gives the rate only within about ±√*F*), so a thin count
widens the range. When the last hour freed few slots (a small pool, a quiet spell), the rate is
taken from the last day instead by Little's law: each full slot frees once per the mean time a
slot is held. Nothing to go on: no estimate at all. The quantiles and windows
were chosen on the simulator's days (``benchmarks/wait_estimate.py``); the README reports the
errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WINDOWS = (15, 30, 60)  # minutes
ENOUGH = 10  # slots freed in a window for its rate to be trusted as it is
LITTLE_SPREAD = 2.0  # Little's rate is known to within a factor of about this
Z = 1.0  # quantiles of about 0.16 and 0.84, taken at the rate's bounds: 8 waits in 10 fell inside


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    typical: int  # seconds
    low: int
    high: int
    thin: bool  # fewer than ENOUGH slots freed in the window used: show the range


def _gamma_quantile(shape: float, z: float) -> float:
    """The quantile of Gamma(shape, 1) at the normal quantile ``z`` (Wilson and Hilferty)."""
    a = 1 / (9 * shape)
    return shape * max(1 - a + z * math.sqrt(a), 0.0) ** 3


@dataclass(frozen=True, slots=True)
class Holding:
    """A day's use, for Little's law: the slot-seconds held over it and the slots freed."""

    slot_seconds: float
    freed: int


def estimate_wait(
    position: int,
    freed: Sequence[int],
    *,
    poll: int,
    slots: int = 0,
    day: Holding | None = None,
) -> WaitEstimate | None:
    """The wait at ``position`` (1: the head) given ``freed``: slots freed per minute over the
    last 60 minutes at least, oldest first, the current minute last. ``poll``: seconds between
    a waiter's polls. While the last hour freed fewer than ENOUGH slots and ``day`` saw at least
    ENOUGH, the rate is Little's instead: the ``slots`` that are full, each freeing once per the
    day's mean holding time, with a range of half to twice that rate."""
    if position < 1:
        return None
    count, minutes = 0, WINDOWS[-1]
    for window in WINDOWS:
        count = sum(freed[-window:])
        minutes = window
        if count >= ENOUGH:
            break
    # The current minute is under way: on average half of it has passed.
    seconds = minutes * 60 - 30
    if count < ENOUGH and slots and day is not None and day.freed >= ENOUGH and day.slot_seconds:
        rate = slots * day.freed / day.slot_seconds
        fast, slow = rate * LITTLE_SPREAD, rate / LITTLE_SPREAD
    elif count == 0:
        return None
    else:
        rate = count / seconds
        spread = Z * math.sqrt(count)
        fast, slow = (count + spread) / seconds, max(count - spread, 0.5) / seconds
    claim = poll / 2
    typical = _gamma_quantile(position, 0.0) / rate + claim
    low = _gamma_quantile(position, -Z) / fast
    high = _gamma_quantile(position, Z) / slow + poll
    return WaitEstimate(
        typical=math.ceil(typical),
        low=math.floor(low),
        high=math.ceil(high),
        thin=count < ENOUGH,
    )
