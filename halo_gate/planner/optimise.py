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
* **Reduced-cost fixing, then search.** Otherwise a split cheaper than the best costs at most
  ``best - step``; a person whose reduced cost exceeds that slack keeps their LP value in every
  such split and leaves the programme (the restart trick of MIP solvers, done once on the full
  data). HiGHS then solves the small remainder with lazy instants as above. A solution optimal
  for a subset of the instants that satisfies all of them is optimal for the whole problem.
* **Time limit.** With ``time_limit`` every HiGHS call gets the time left. At the limit the
  best split found so far is returned with the bound it is proven against (proof
  ``"time_limit"``): a 20,000-person month can spend hours closing the last cost step.
* **A tolerance, for the backtest only.** Closing the last cost step can take HiGHS minutes on
  some cuts of a large record (10,000 people over 45 days: the LP bound one step of 70 below
  the best split, a remaining programme of 424 people). ``gap`` > 0 accepts a split costing
  at most that share more than the bound, so at most that much more than the optimum; the
  plan itself always uses ``gap = 0``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix

from .incumbents import TOLERANCE, polish, worst_per_stretch
from .intervals import load_at, members_at, sweep
from .usage import Times, UsageLog

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


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
    # How the optimum was proven: "prices" (no solver), "bound" (LP bound met), "search" (MILP),
    # or "gap" (within the tolerance asked for, not necessarily optimal).
    proof: str = "prices"
    # The instants the programme was solved on: a ``hint`` for a later, longer record.
    instants: Times = field(default_factory=lambda: _no_instants(), compare=False, repr=False)
    # With proof "time_limit": no split costs less than this (monthly); else None.
    lower_bound: float | None = None

    @property
    def annual_cost(self) -> float:
        return 12 * self.monthly_cost


def _no_instants() -> Times:
    return np.zeros(0, dtype=np.int64)


def pool_peak(merged: UsageLog, named: Mask) -> int:
    """The simultaneous peak of the people not named (``named`` is a mask over people)."""
    free = ~named[merged.owner]
    return sweep(merged.start[free], merged.end[free]).peak


def optimal_split(
    merged: UsageLog,
    price_named: float,
    price_concurrent: float,
    gap: float = 0.0,
    hint: Times | None = None,
    *,
    time_limit: float | None = None,
) -> Split:
    """The cheapest split for merged sessions (see the module docstring for the method), or
    with ``gap`` > 0 one costing at most that share more. ``hint``: instants to start the lazy
    constraints from besides each day's busiest (a shorter record's ``Split.instants``); any
    instants give the same optimal cost, the right ones fewer rounds."""
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
        gap=gap,
        deadline=None if time_limit is None else time.monotonic() + time_limit,
    )
    return search.run(_no_instants() if hint is None else hint)


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
    gap: float = 0.0
    deadline: float | None = None  # time.monotonic() at the time limit
    must_name: Mask = field(init=False)
    never_name: Mask = field(init=False)
    chosen: Mask = field(init=False)  # the instants in the programme

    def __post_init__(self) -> None:
        self.must_name = np.zeros(len(self.merged.people), dtype=np.bool_)
        self.never_name = np.zeros(len(self.merged.people), dtype=np.bool_)

    def run(self, hint: Times) -> Split:
        chosen = self._busiest_per_day() | np.isin(self.moments, hint)
        self.chosen = chosen  # the same array, grown in place below
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
            chosen |= worst_per_stretch(over)
        self._round(chosen, model, relaxed.x)
        bound = self._fix(model, relaxed)
        step = _cost_step(*self.prices)
        if step is not None:
            bound = math.ceil(bound / step - 1e-7) * step
        if self.best.monthly_cost <= bound + 1e-9:
            return self._proven(self.best, "bound")
        if self.gap > 0 and self.best.monthly_cost <= bound * (1 + self.gap):
            return self._proven(self.best, "gap")
        # Phase 2: exact search on the variables the bound could not fix, adding instants as
        # long as the restricted optimum violates one.
        while True:
            try:
                candidate = self._solve(self._model(chosen))
            except _Stopped:
                best = self.best
                instants = self.moments[self.chosen]
                return Split(
                    best.named, best.slots, best.monthly_cost, "time_limit", instants, bound
                )
            if candidate is None or candidate.monthly_cost >= self.best.monthly_cost:
                return self._proven(self.best, "gap" if self.gap else "search")
            named = self._mask(candidate.named)
            over = self._pool_load(named) - candidate.slots
            if not (over > 0).any():
                return self._proven(candidate, "gap" if self.gap else "search")
            self._consider(named)
            chosen |= worst_per_stretch(over)

    def _time_left(self) -> dict[str, float]:
        """HiGHS's ``time_limit`` option for the time left (nothing without a limit)."""
        if self.deadline is None:
            return {}
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Stopped
        return {"time_limit": left}

    def _proven(self, split: Split, proof: str) -> Split:
        instants = self.moments[self.chosen]
        return Split(split.named, split.slots, split.monthly_cost, proof, instants)

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
        # Every instant's set of people online lies within the set at one of the candidate
        # instants (see ``intervals``), so the pool's peak is its largest load there.
        slots = max(0, int(self._pool_load(named).max()))
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
            # Dual simplex without presolve: on these wide, dense rows presolve takes longer
            # than the solve (1.3 s against 0.55 s on 640 instants x 9,875 people).
            method="highs-ds",
            options={"presolve": False, **self._time_left()},
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
            self._consider(polish(self.merged, self.moments, self.loads, named, self.prices))
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
            self._consider(polish(self.merged, self.moments, self.loads, named, self.prices))

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
            options={"mip_rel_gap": self.gap, **self._time_left()},
        )
        if result.status == 2:  # infeasible: no split cheaper than the best is left
            return None
        if result.status == 1:  # the time limit
            raise _Stopped
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
