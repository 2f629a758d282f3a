"""The plan's method on merged sessions, shared by the plan and the backtest: the exact split
(``optimise``), then, with a denial allowance R > 0, the smallest pool whose replay of those
sessions refuses at most a share R of the logins of the people not named (``replay``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .optimise import Split, optimal_split
from .replay import smallest_pool
from .usage import Mask, Times, UsageLog


@dataclass(frozen=True)
class Fit:
    split: Split  # the exact zero-denial optimum
    named: Mask  # over the log's people
    slots: int  # the pool: the split's, or the smallest meeting the allowance

    def pool_sessions(self, merged: UsageLog) -> UsageLog:
        """The merged sessions of the people not named."""
        free = ~self.named[merged.owner]
        return UsageLog(merged.people, merged.owner[free], merged.start[free], merged.end[free])


def fit(
    merged: UsageLog,
    price_named: float,
    price_concurrent: float,
    max_denial_rate: float = 0.0,
    gap: float = 0.0,
    hint: Times | None = None,
    *,
    time_limit: float | None = None,
) -> Fit:
    """The plan's named people and pool; ``gap``, ``hint`` and ``time_limit`` as in
    ``optimal_split``."""
    split = optimal_split(merged, price_named, price_concurrent, gap, hint, time_limit=time_limit)
    named = np.zeros(len(merged.people), dtype=np.bool_)
    named[list(split.named)] = True
    slots = split.slots
    if max_denial_rate > 0:
        free = ~named[merged.owner]
        slots = smallest_pool(merged.start[free], merged.end[free], max_denial_rate, split.slots)
    return Fit(split, named, slots)
