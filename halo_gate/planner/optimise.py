"""The exact named/concurrent split.

Problem
-------
Choose the set ``N`` of people given a named seat and the pool size ``s`` that minimise
``price_named * |N| + price_concurrent * s`` (per month; the annual cost is 12 times that), where
the pool must hold everyone not in ``N`` who is online at the same instant: ``s`` is the peak
concurrency of the people outside ``N``. Each person's sessions are merged first, so a person with
several overlapping sessions counts once.

As an integer programme, with ``x_p = 1`` when person ``p`` is named::

    minimise    a * sum_p x_p + b * s
    subject to  s + sum_{p online at t} x_p >= load(t)      for every instant t
                x_p in {0, 1},  s integer in [0, peak]

Why not a greedy rule
---------------------
"Name the top k by hours" fails when heavy users never overlap: four night-shift engineers on
different nights share one slot for the price of two named seats, while a small cluster of
light users who are all online at the peak is what the pool really pays for (the test suite
has this case: the plan costs 280 a month where the best top-k costs 420). With one interval
per person the constraint matrix is an interval matrix (consecutive ones), totally unimodular,
so even the LP relaxation is integral. With several intervals per person it is not: the problem
contains vertex cover (give each edge of a graph its own instant where its two ends are online;
with ``s = 1`` every edge needs a named end), so it is NP-hard in general and an exact answer needs
a real search. We use the HiGHS branch-and-cut solver (``scipy.optimize.milp``) with the
relative gap set to zero, so the answer is proven optimal, not approximate.

Making it fast
--------------
* **Price shortcut.** Naming a person costs ``a`` and lowers the peak by at most one slot worth
  ``b``; when ``b <= a`` naming nobody is optimal and no solver is needed.
* **Only maximal cliques.** The constraint at ``t`` is implied by the constraint at any ``t'``
  whose set of online people contains ``t``'s. Only instants where someone has just arrived and
  the next event is a departure can hold such a maximal set (see ``intervals``), so only those
  are candidates: at most one per interval instead of one per event.
* **Lazy constraints.** A 90-day log still has hundreds of thousands of candidate instants, and
  few bind. Phase 1 solves the LP relaxation on each day's busiest instant, checks the fractional
  solution against every candidate instant in one vectorised pass, adds the most violated
  instant of each busy stretch, and repeats: it ends with the LP optimum over *all* instants.
* **Incumbents.** The LP solution is rounded at a few thresholds and by a "dive" (the integral
  part kept, the few fractional people solved exactly), and each result is polished by a local
  search; every candidate is costed on the full data, so the best one is a real split.
* **Bound.** Any nonnegative duals ``y`` give a valid lower bound ``y.b + sum min(0, d_j) u_j``
  (``d = c - A'y``). When prices are whole pennies every cost is a multiple of their gcd, so
  the bound rounds up to that step. If the best split meets it, it is optimal: on the guide's
  shapes this settles 10,000 people x 90 days in seconds.
* **Time limit.** With ``time_limit`` every HiGHS call gets the time left. At the limit the
  best split found so far is returned with the bound it is proven against (proof
  ``"time_limit"``): a 20,000-person month can spend hours closing the last cost step.
* **Reduced-cost fixing, then search.** Otherwise a split cheaper than the best costs at most
  ``best - step``; a person whose reduced cost exceeds that slack keeps their LP value in every
  such split and leaves the programme (the restart trick of MIP solvers, done once on the full
  data). HiGHS then solves the small remainder with lazy instants as above. A solution optimal
  for a subset of the instants that satisfies all of them is optimal for the whole problem.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix

from .intervals import load_at, members_at, sweep
from .usage import Times, UsageLog

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

# The most violated instants added to the programme in one round.
ROUND_LIMIT = 512
# The polish looks at instants within this many people of the pool's peak.
HOT = 3
# Violations of the LP relaxation smaller than this are rounding noise.
TOLERANCE = 1e-6


class SolverFailure(RuntimeError):
    """HiGHS reported something other than a proven optimum (it should never happen)."""


class OutOfTime(RuntimeError):
    """The time limit passed before even the first LP relaxation was solved."""


class _Stopped(Exception):
    """A HiGHS call reached the time limit."""


@dataclass(frozen=True)
class Split:
    """A licence split: who is named (indices into the log's people) and the pool size."""

    named: tuple[int, ...]
    slots: int
    monthly_cost: float
    # How the optimum was proven: "prices" (no solver), "bound" (LP bound met), "search" (MILP);
    # "time_limit": not proven, but no split costs less than ``lower_bound``.
    proof: str = "prices"
    lower_bound: float | None = None  # monthly; None when the split is proven optimal

    @property
    def annual_cost(self) -> float:
        return 12 * self.monthly_cost


def pool_peak(merged: UsageLog, named: Mask) -> int:
    """The simultaneous peak of the people not named (``named`` is a mask over people)."""
    free = ~named[merged.owner]
    return sweep(merged.start[free], merged.end[free]).peak


def optimal_split(
    merged: UsageLog,
    price_named: float,
    price_concurrent: float,
    *,
    time_limit: float | None = None,
) -> Split:
    """The cheapest split for merged sessions (see the module docstring for the method), or
    with ``time_limit`` (seconds) the best one found by then."""
    everyone = sweep(merged.start, merged.end)
    if everyone.peak == 0 or price_concurrent <= price_named:
        return Split((), everyone.peak, price_concurrent * everyone.peak)
    search = _Search(
        merged,
        everyone.times[everyone.maximal],
        everyone.load[everyone.maximal],
        (float(price_named), float(price_concurrent)),
        # Naming nobody is always a split, so the search starts from it.
        best=Split((), everyone.peak, price_concurrent * everyone.peak),
        slots_upper=everyone.peak,
        deadline=None if time_limit is None else time.monotonic() + time_limit,
    )
    return search.run()


def _cost_step(price_named: float, price_concurrent: float) -> float | None:
    """The step between possible costs (gcd of the prices in cents), or None if the prices
    are not whole cents. An LP bound rounded up to it is still a bound."""
    prices = (price_named, price_concurrent)
    cents = [round(price * 100) for price in prices]
    if any(abs(price * 100 - cent) > 1e-9 for price, cent in zip(prices, cents, strict=True)):
        return None
    return math.gcd(*cents) / 100 or None


@dataclass(frozen=True)
class _Model:
    """The programme on chosen instants: ``people`` are the columns still free; each
    (``rows[k]``, ``columns[k]``) pair says that person is online at that instant; ``need[r]``
    is the load at instant ``r`` minus the people already proven named."""

    people: Times
    rows: npt.NDArray[np.intp]
    columns: npt.NDArray[np.intp]
    need: Times


@dataclass
class _Search:
    """Lazy constraints, LP bound, polished incumbents, reduced-cost fixing, then branch-and-cut
    on what is left; see the module docstring."""

    merged: UsageLog
    moments: Times
    loads: Times
    prices: tuple[float, float]
    best: Split = field(default_factory=lambda: Split((), 0, 0.0))
    # Bounds proven for every split cheaper than ``best``.
    slots_lower: int = 0
    slots_upper: int = 0
    deadline: float | None = None  # time.monotonic() at the time limit
    must_name: Mask = field(init=False)
    never_name: Mask = field(init=False)

    def __post_init__(self) -> None:
        self.must_name = np.zeros(len(self.merged.people), dtype=np.bool_)
        self.never_name = np.zeros(len(self.merged.people), dtype=np.bool_)

    def run(self) -> Split:
        chosen = self._busiest_per_day()
        solved: tuple[_Model, _Relaxation] | None = None
        # Phase 1: the LP relaxation over all instants, by adding the instants it violates.
        # At the time limit, the last relaxation solved is a relaxation all the same.
        while True:
            model = self._model(chosen)
            if model is None:  # only when no instant has anyone online: nothing to decide
                return self._proven(self._evaluate(self.must_name), "bound")
            try:
                relaxed = self._relax(model)
            except _Stopped:
                if solved is None:
                    raise OutOfTime("The time limit passed before the first relaxation.") from None
                model, relaxed = solved
                break
            solved = model, relaxed
            over = self._fractional_pool_load(model, relaxed.x) - relaxed.x[-1]
            if not (over > TOLERANCE).any():
                break
            chosen |= _worst_per_stretch(over)
        self._round(chosen, model, relaxed.x)
        bound = self._fix(model, relaxed)
        step = _cost_step(*self.prices)
        if step is not None:
            bound = math.ceil(bound / step - 1e-7) * step
        if self.best.monthly_cost <= bound + 1e-9:
            return self._proven(self.best, "bound")
        # Phase 2: exact search on the variables the bound could not fix, adding instants as
        # long as the restricted optimum violates one.
        while True:
            try:
                candidate = self._solve(self._model(chosen))
            except _Stopped:
                best = self.best
                return Split(best.named, best.slots, best.monthly_cost, "time_limit", bound)
            if candidate is None or candidate.monthly_cost >= self.best.monthly_cost:
                return self._proven(self.best, "search")
            named = self._mask(candidate.named)
            over = self._pool_load(named) - candidate.slots
            if not (over > 0).any():
                return self._proven(candidate, "search")
            self._consider(named)
            chosen |= _worst_per_stretch(over)

    def _time_left(self) -> dict[str, float]:
        """HiGHS's ``time_limit`` option for the time left (nothing without a limit)."""
        if self.deadline is None:
            return {}
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Stopped
        return {"time_limit": left}

    def _proven(self, split: Split, proof: str) -> Split:
        return Split(split.named, split.slots, split.monthly_cost, proof)

    def _mask(self, people: tuple[int, ...] | Times) -> Mask:
        mask = np.zeros(len(self.merged.people), dtype=np.bool_)
        mask[list(people)] = True
        return mask

    def _busiest_per_day(self) -> Mask:
        """To start with, each day's busiest instant."""
        day = self.moments // 86400
        order = np.lexsort((-self.loads, day))
        first_of_day = np.ones(order.size, dtype=np.bool_)
        first_of_day[1:] = day[order][1:] != day[order][:-1]
        chosen = np.zeros(self.moments.size, dtype=np.bool_)
        chosen[order[first_of_day]] = True
        return chosen

    def _pool_load(self, named: Mask) -> Times:
        on_named = named[self.merged.owner]
        start, end = self.merged.start[on_named], self.merged.end[on_named]
        return self.loads - load_at(start, end, self.moments)

    def _fractional_pool_load(self, model: _Model, x: Floats) -> Floats:
        """At every candidate instant, the pool load with people named by the fractions ``x``."""
        named_share = np.zeros(len(self.merged.people))
        named_share[self.must_name] = 1.0
        named_share[model.people] = x[:-1]
        weight = named_share[self.merged.owner]
        by_start = np.argsort(self.merged.start, kind="stable")
        by_end = np.argsort(self.merged.end, kind="stable")
        started = np.concatenate(([0.0], np.cumsum(weight[by_start])))
        ended = np.concatenate(([0.0], np.cumsum(weight[by_end])))
        named_load = (
            started[np.searchsorted(self.merged.start[by_start], self.moments, side="right")]
            - ended[np.searchsorted(self.merged.end[by_end], self.moments, side="right")]
        )
        pool: Floats = self.loads - named_load
        return pool

    def _evaluate(self, named: Mask) -> Split:
        slots = pool_peak(self.merged, named)
        price_named, price_concurrent = self.prices
        people = np.flatnonzero(named)
        cost = price_named * people.size + price_concurrent * slots
        return Split(tuple(int(p) for p in people), slots, cost)

    def _consider(self, named: Mask) -> None:
        """Keeps ``named`` with its true pool peak as the best split if it is cheaper."""
        split = self._evaluate(named)
        if split.monthly_cost < self.best.monthly_cost:
            self.best = split

    def _model(self, chosen: Mask) -> _Model | None:
        moments = self.moments[chosen]
        rows, intervals = members_at(self.merged.start, self.merged.end, moments)
        owners = self.merged.owner[intervals]
        # People proven named leave the rows' right-hand side; people proven unnamed leave the
        # columns (their presence stays in the load the pool must hold).
        named_here = np.bincount(rows[self.must_name[owners]], minlength=moments.size)
        need = self.loads[chosen] - named_here
        live_row = need > self.slots_lower
        if not live_row.any():
            return None
        keep = live_row[rows] & ~self.must_name[owners] & ~self.never_name[owners]
        people, columns = np.unique(owners[keep], return_inverse=True)
        row_number = np.cumsum(live_row) - 1
        return _Model(people, row_number[rows[keep]], columns, need[live_row])

    def _matrix(self, model: _Model) -> csr_matrix:
        height = model.need.size
        width = model.people.size + 1  # the last column is the pool size s
        return csr_matrix(
            (
                np.ones(model.rows.size + height),
                (
                    np.concatenate((model.rows, np.arange(height))),
                    np.concatenate((model.columns, np.full(height, model.people.size))),
                ),
            ),
            shape=(height, width),
        )

    def _costs(self, model: _Model) -> Floats:
        price_named, price_concurrent = self.prices
        cost = np.full(model.people.size + 1, price_named)
        cost[-1] = price_concurrent
        return cost

    def _bounds(self, model: _Model) -> tuple[Floats, Floats]:
        lower = np.zeros(model.people.size + 1)
        upper = np.ones(model.people.size + 1)
        lower[-1], upper[-1] = self.slots_lower, self.slots_upper
        return lower, upper

    def _relax(self, model: _Model) -> _Relaxation:
        matrix, cost = self._matrix(model), self._costs(model)
        lower, upper = self._bounds(model)
        result = linprog(
            cost,
            A_ub=-matrix,
            b_ub=-model.need.astype(float),
            bounds=np.column_stack((lower, upper)),
            method="highs",
            options=self._time_left(),
        )
        if result.status == 1:  # the time limit
            raise _Stopped
        if result.status != 0:
            raise SolverFailure(f"HiGHS could not solve the LP relaxation: {result.message}")
        duals = np.maximum(0.0, -np.asarray(result.ineqlin.marginals, dtype=np.float64))
        return _Relaxation(np.asarray(result.x, dtype=np.float64), duals, matrix, cost)

    def _round(self, chosen: Mask, model: _Model, x: Floats) -> None:
        """Full-feasible splits from the LP solution: rounded at a few thresholds, and a dive
        (the integral part of the LP solution kept, the fractional part solved exactly), each
        polished by a local search."""
        for threshold in (0.5, 0.999, 1e-6):
            named = self.must_name.copy()
            named[model.people[x[:-1] >= threshold]] = True
            self._consider(_polish(self.merged, self.moments, self.loads, named, self.prices))
        saved = self.must_name.copy(), self.never_name.copy(), self.best
        self.must_name[model.people[x[:-1] > 1 - TOLERANCE]] = True
        self.never_name[model.people[x[:-1] < TOLERANCE]] = True
        self.best = Split((), 0, math.inf)
        try:
            dive = self._solve(self._model(chosen))
        except _Stopped:
            dive = None
        finally:
            self.must_name, self.never_name, self.best = saved
        if dive is not None:
            named = self._mask(dive.named)
            self._consider(_polish(self.merged, self.moments, self.loads, named, self.prices))

    def _fix(self, model: _Model, relaxed: _Relaxation) -> float:
        """Fixes every variable whose reduced cost proves its value in any split cheaper than
        the best; returns the LP bound.

        Any duals y >= 0 give a valid bound, optimal or not: for every feasible x,
        c.x = y.Ax + d.x >= y.b + d.x with d = c - A'y, and d.x is smallest at the bounds. So a
        variable moved off its bound by one unit costs at least ``bound + |d_j|``; when that
        exceeds the most a cheaper split may cost, the variable stays at its bound."""
        lower, upper = self._bounds(model)
        reduced = relaxed.cost - relaxed.matrix.T @ relaxed.duals
        bound = float(relaxed.duals @ model.need) + float(
            np.where(reduced > 0, reduced * lower, reduced * upper).sum()
        )
        # A cheaper split costs at most ``target``: a whole cost step below the best.
        step = _cost_step(*self.prices) or 0.0
        target = self.best.monthly_cost - step
        slack = target - bound + 1e-6 * max(1.0, self.best.monthly_cost)
        fixed_low = reduced * (upper - lower) > slack
        fixed_high = -reduced * (upper - lower) > slack
        self.never_name[model.people[fixed_low[:-1]]] = True
        self.must_name[model.people[fixed_high[:-1]]] = True
        s_reduced = float(reduced[-1])
        if s_reduced > 0:
            self.slots_upper = min(self.slots_upper, int(lower[-1] + slack // s_reduced))
        elif s_reduced < 0:
            self.slots_lower = max(self.slots_lower, int(upper[-1] - slack // -s_reduced))
        return bound

    def _solve(self, model: _Model | None) -> Split | None:
        """The exact optimum of the programme restricted to the chosen instants, among splits
        cheaper than the best (None when there is none)."""
        if model is None:
            return self._evaluate(self.must_name)
        cost = self._costs(model)
        lower, upper = self._bounds(model)
        if lower[-1] > upper[-1]:
            return None
        result = milp(
            cost,
            integrality=np.ones(cost.size),
            bounds=Bounds(lower, upper),
            constraints=LinearConstraint(self._matrix(model), model.need.astype(float), np.inf),
            options={"mip_rel_gap": 0.0, **self._time_left()},
        )
        if result.status == 1:  # the time limit
            raise _Stopped
        if result.status == 2:  # infeasible: no split cheaper than the best is left
            return None
        if result.status != 0 or result.x is None:
            raise SolverFailure(f"HiGHS stopped without a proven optimum: {result.message}")
        values = np.rint(result.x).astype(np.int64)
        named = np.concatenate((np.flatnonzero(self.must_name), model.people[values[:-1] == 1]))
        slots = int(values[-1])
        price_named, price_concurrent = self.prices
        cost_value = price_named * named.size + price_concurrent * slots
        return Split(tuple(sorted(int(p) for p in named)), slots, cost_value)


@dataclass(frozen=True)
class _Relaxation:
    x: Floats
    duals: Floats
    matrix: csr_matrix
    cost: Floats


def _polish(
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


def _worst_per_stretch(over: Floats | Times) -> Mask:
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
