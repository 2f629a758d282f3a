"""Quick ways to good candidates for the exact search in ``optimise``: a local search that
polishes a rounded LP solution into a good split, and the instants worth adding to the
programme in a round. Neither proves anything; ``optimise`` proves optimality.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .intervals import load_at, members_at
from .usage import Mask, Times, UsageLog

Floats = npt.NDArray[np.float64]

# The most violated instants added to the programme in one round.
ROUND_LIMIT = 512
# The polish looks at instants within this many people of the pool's peak.
HOT = 3
# Violations of the LP relaxation smaller than this are rounding noise.
TOLERANCE = 1e-6


def polish(
    merged: UsageLog, moments: Times, loads: Times, named: Mask, prices: tuple[float, float]
) -> Mask:
    """A local search from a rounded LP solution (only to find a good incumbent; optimality
    is proven elsewhere): un-name whoever the pool can absorb without growing, then shave the
    peak while fewer named people than a slot is worth cover every instant where the pool is
    full. It looks only at instants within ``HOT`` of the pool's peak, so it stays small."""
    price_named, price_concurrent = prices
    named = named.copy()
    on_named = named[merged.owner]
    pool = loads - load_at(merged.start[on_named], merged.end[on_named], moments)
    slots = int(pool.max()) if pool.size else 0
    hot = pool >= slots - HOT
    pool = pool[hot]
    rows, intervals = members_at(merged.start, merged.end, moments[hot])
    owners = merged.owner[intervals]
    order = np.argsort(owners, kind="stable")
    rows, owners = rows[order], owners[order]
    edges = np.searchsorted(owners, np.arange(len(merged.people) + 1))
    for _ in range(HOT):
        slots = int(pool.max()) if pool.size else 0
        for someone in np.flatnonzero(named).tolist():
            at = rows[edges[someone] : edges[someone + 1]]
            if at.size == 0 or int(pool[at].max()) < slots:
                named[someone] = False
                pool[at] += 1
        if slots == 0:
            break
        # Greedy cover of the instants where the pool is full by people not named.
        uncovered = pool == slots
        picked: list[int] = []
        while uncovered.any() and (len(picked) + 1) * price_named < price_concurrent:
            hits = np.bincount(owners[uncovered[rows] & ~named[owners]], minlength=named.size)
            person = int(np.argmax(hits))
            if hits[person] == 0:
                break
            picked.append(person)
            uncovered[rows[edges[person] : edges[person + 1]]] = False
        if uncovered.any() or not picked:
            break
        for person in picked:
            named[person] = True
            pool[rows[edges[person] : edges[person + 1]]] -= 1
    return named


def worst_per_stretch(over: Floats | Times) -> Mask:
    """The most violated instant of each run of consecutive violated instants, the worst
    ``ROUND_LIMIT`` of them: a busy stretch (a morning peak) needs one constraint, not one
    per instant."""
    violated = over > TOLERANCE
    edges = np.flatnonzero(np.diff(np.concatenate(([0], violated.view(np.int8), [0]))))
    run_starts, run_ends = edges[::2], edges[1::2]
    worst = np.array(
        [
            start + int(np.argmax(over[start:end]))
            for start, end in zip(run_starts, run_ends, strict=True)
        ],
        dtype=np.intp,
    )
    worst = worst[np.argsort(-over[worst], kind="stable")[:ROUND_LIMIT]]
    picked = np.zeros(over.size, dtype=np.bool_)
    picked[worst] = True
    return picked
