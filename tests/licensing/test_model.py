"""A stateful property test: the engine on the real server against a plain model of the rules.

Hypothesis drives admit / heartbeat / release / end / assign / unassign / resize / configure,
live changes of the pool rules (reservations and caps) and the passing of time; people come
with any of two groups. After every step the engine's usage (per group too) must equal the
model's counts, live pool holders never exceed the slots and no group's members exceed its cap
(except right after a shrink, when nobody new gets in), no reservation is charged to anyone
outside its group, and named people are always admitted. The waiting line (at most two
people) is modelled too: every refusal's place in it, and its length, must match. A second
machine runs it all with harvesting on: who yields a slot, to whom, and what the harvested are
told must match.
``HALO_GATE_PROPERTY_EXAMPLES`` (default 50) sets the number of runs.

Time moves in steps of 300 s, while the idle timeout (1000 s) and the seat cooldown (1700 s) are
not multiples of 300, so no check ever lands on the millisecond where an entry expires. The
maximum age is beyond any run's horizon (it has its own tests in ``test_engine.py``).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from redis.asyncio import Redis

from halo_gate.licensing import Decision, LicenceEngine, PoolRulesError

from ..conftest import REDIS_URL, drop_instance, unique_instance
from .model import COOLDOWN, GRACE, IDLE, OFFER, QUEUE_MAX, Model, Refusal, Rules

MAX_AGE = 10**7
HARVEST = 500
PEOPLE = ("ann", "bob", "cat", "dan")
GROUPS = ("sd", "hr")
LIVE = ("admitted", "renewed", "readmitted")
T = TypeVar("T")
RULES = st.lists(
    st.tuples(st.sampled_from(GROUPS), st.integers(0, 2)), max_size=2, unique_by=lambda r: r[0]
).map(tuple)
GROUP_SETS = st.sets(st.sampled_from(GROUPS))


class LicenceMachine(RuleBasedStateMachine):
    harvest = 0  # the harvest threshold (s, 0: off)

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.store = self.run(self._connect())
        self.engine = LicenceEngine(
            self.store,
            instance=unique_instance(),
            idle_timeout=IDLE,
            session_max_age=MAX_AGE,
            named_cooldown=COOLDOWN,
            queue_max=QUEUE_MAX,
            queue_grace=GRACE,
            queue_offer=OFFER,
            harvest_idle=self.harvest,
        )
        self.model = Model(harvest=self.harvest)
        self.counter = 0
        self.known: dict[str, list[str]] = {p: [] for p in PEOPLE}
        self.ceiling = 0  # the most pool holders allowed now: slots, or more just after a shrink
        self.group_ceiling: dict[str, int] = {}  # the same for each capped group's members

    @staticmethod
    async def _connect() -> Redis:
        return Redis.from_url(REDIS_URL)

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(call)

    def teardown(self) -> None:
        self.run(drop_instance(self.store, self.engine.keys.instance))
        self.run(self.store.aclose())
        self.runner.close()

    def capacity_changed(self) -> None:
        model = self.model
        self.ceiling = max(model.slots, model.in_use)
        counts = model.group_counts()
        self.group_ceiling = {g: max(cap, counts.get(g, (0, 0, 0))[0]) for g, cap in model.cap}

    # The deployment and the administrators

    @initialize(slots=st.integers(0, 3), seats=st.integers(0, 2), reserve=RULES, cap=RULES)
    def deploy(self, slots: int, seats: int, reserve: Rules, cap: Rules) -> None:
        self.configure(slots, seats, [], reserve, cap)

    @rule(
        slots=st.integers(0, 3),
        seats=st.integers(0, 2),
        listed=st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True),
        reserve=RULES,
        cap=RULES,
    )
    def configure(
        self, slots: int, seats: int, listed: list[str], reserve: Rules, cap: Rules
    ) -> None:
        left = self.run(
            self.engine.configure(
                concurrent_seats=slots,
                named_seats=seats,
                named_users=listed,
                pool_reserve=reserve,
                pool_cap=cap,
            )
        )
        model = self.model
        if model.deployed.get("slots") != slots:
            model.slots = model.deployed["slots"] = slots
        if model.deployed.get("seats") != seats:
            model.seats = model.deployed["seats"] = seats
        if model.deployed.get("reserve") != reserve:
            model.reserve = model.deployed["reserve"] = reserve
        if model.deployed.get("cap") != cap:
            model.cap = model.deployed["cap"] = cap
        expected_left = []
        for person in listed:
            if person not in model.named:
                if model.seat_free_for(person):
                    model.take_seat(person)
                else:
                    expected_left.append(person)
        assert left == expected_left
        self.capacity_changed()

    @rule(slots=st.none() | st.integers(0, 3), seats=st.none() | st.integers(0, 2))
    def resize(self, slots: int | None, seats: int | None) -> None:
        answer = self.run(self.engine.resize(concurrent_seats=slots, named_seats=seats))
        if slots is not None:
            self.model.slots = slots
        if seats is not None:
            self.model.seats = seats
        assert answer == (self.model.slots, self.model.seats)
        self.capacity_changed()

    @rule(reserve=st.none() | RULES, cap=st.none() | RULES)
    def set_pools(self, reserve: Rules | None, cap: Rules | None) -> None:
        model = self.model
        new_reserve = model.reserve if reserve is None else reserve
        new_cap = model.cap if cap is None else cap
        caps = dict(new_cap)
        valid = sum(n for _, n in new_reserve) <= model.slots and all(
            n <= caps.get(g, n) for g, n in new_reserve
        )
        try:
            rules = self.run(self.engine.set_pools(reserve=reserve, cap=cap))
        except PoolRulesError:
            assert not valid
            return
        assert valid
        model.reserve, model.cap = new_reserve, new_cap
        assert (rules.reserve, rules.cap) == (new_reserve, new_cap)
        self.capacity_changed()

    @rule(person=st.sampled_from(PEOPLE))
    def assign(self, person: str) -> None:
        answer = self.run(self.engine.assign(person))
        model = self.model
        if person in model.named:
            assert answer == "already"
        elif model.seat_free_for(person):
            assert answer == "assigned"
            model.take_seat(person)
        else:
            assert answer == "no_seat"

    @rule(person=st.sampled_from(PEOPLE))
    def unassign(self, person: str) -> None:
        answer = self.run(self.engine.unassign(person))
        model = self.model
        assert answer == (person in model.named)
        if not answer:
            return
        model.named.discard(person)
        model.quarantine[person] = model.now + COOLDOWN
        model.records.pop(person, None)
        if model.live(person) and (model.pooled or model.in_use - 1 >= model.slots):
            # No slot for the sessions the seat held, or pool rules that need the person's
            # groups to charge one: they end (without a tombstone).
            model.sessions.pop(person, None)

    # People

    def check_admission(
        self,
        person: str,
        decision: Decision,
        expected: tuple[str, Refusal | None],
        named: bool,
    ) -> None:
        model = self.model
        outcome, refusal = expected
        assert decision.outcome == outcome, (person, decision)
        # Which rule refused, so that a run's statistics show every kind was reached.
        kind = refusal and (refusal.group or ("shared" if refusal.limit < model.slots else ""))
        event(f"{outcome} {kind or ''}".strip())
        if named:
            assert decision.admitted, "a named person is always admitted"
        assert decision.in_use == model.in_use
        assert decision.capacity == model.slots
        if decision.admitted:
            assert decision.licence == ("named" if person in model.named else "concurrent")
        assert decision.position == model.position, (person, decision)
        assert tuple(sorted(decision.harvested_sessions)) == model.took, (person, decision)
        assert decision.reason == (refusal.reason if refusal else ""), (person, decision)
        if model.took:
            event("harvested")
        if decision.reason:
            event("told it was harvested")
        if model.walked:
            event("met the line")
        if refusal is not None and not model.walked:
            assert (decision.group, decision.limit, decision.held) == (
                refusal.group,
                refusal.limit,
                refusal.held,
            )
            assert decision.retry_after == pytest.approx(math.ceil(refusal.wait), abs=5)

    @rule(person=st.sampled_from(PEOPLE), group=st.booleans(), groups=GROUP_SETS)
    def admit(self, person: str, group: bool, groups: set[str]) -> None:
        self.counter += 1
        session = f"{person}-{self.counter}"
        self.known[person].append(session)
        named = person in self.model.named
        decision = self.run(
            self.engine.admit(person, session, named_group=group, groups=sorted(groups))
        )
        expected = self.model.admission(person, session, group, groups, "admitted")
        self.check_admission(person, decision, expected, named)

    @rule(person=st.sampled_from(PEOPLE), group=st.booleans(), groups=GROUP_SETS, data=st.data())
    def heartbeat(self, person: str, group: bool, groups: set[str], data: st.DataObject) -> None:
        if not self.known[person]:
            return
        session = data.draw(st.sampled_from(self.known[person]))
        model = self.model
        named = person in model.named
        decision = self.run(
            self.engine.heartbeat(person, session, named_group=group, groups=sorted(groups))
        )
        if session in model.tombstones:
            assert decision.outcome == "ended"
            return
        if session in model.maybe_tombstones:
            model.maybe_tombstones.discard(session)
            if decision.outcome == "ended":
                model.tombstones.add(session)
                return
        renewal = "renewed" if session in model.live(person) else "readmitted"
        expected = model.admission(person, session, group, groups, renewal)
        self.check_admission(person, decision, expected, named)

    @rule(person=st.sampled_from(PEOPLE), data=st.data())
    def release(self, person: str, data: st.DataObject) -> None:
        if not self.known[person]:
            return
        session = data.draw(st.sampled_from(self.known[person]))
        answer = self.run(self.engine.release(person, session))
        self.model.tombstones.add(session)  # a copy of its cookie must sign in again
        self.model.maybe_tombstones.discard(session)
        sessions = self.model.sessions.get(person, {})
        if session in self.model.live(person):
            assert answer is True
        elif session not in sessions:
            assert answer is False
        sessions.pop(session, None)  # an expired one may still have been there to release
        self.model.leave(person)  # a waiter leaves the line

    @rule(person=st.sampled_from(PEOPLE), everything=st.booleans(), data=st.data())
    def end_session(self, person: str, everything: bool, data: st.DataObject) -> None:
        if not self.known[person]:
            return
        model = self.model
        sessions = model.sessions.get(person, {})
        live = model.live(person)
        if everything:
            targets = list(sessions)
            answer = self.run(self.engine.end_session(person))
            model.tombstones |= set(live)
            model.maybe_tombstones |= set(targets) - set(live)
        else:
            targets = [data.draw(st.sampled_from(self.known[person]))]
            answer = self.run(self.engine.end_session(person, targets[0]))
            model.tombstones.add(targets[0])
        certain = len(set(targets) & set(live))
        lingering = len([s for s in targets if s in sessions and s not in live])
        assert certain <= answer <= certain + lingering
        for session in targets:
            sessions.pop(session, None)

    @rule(seconds=st.sampled_from([300, 600, 1200]))
    def advance(self, seconds: int) -> None:
        self.engine.clock_offset += seconds
        self.model.now += seconds

    @invariant()
    def usage_matches_the_model(self) -> None:
        model = self.model
        usage = self.run(self.engine.usage())
        active = {p for p in model.named if model.live(p)}
        assert (usage.concurrent_seats, usage.named_seats) == (model.slots, model.seats)
        assert usage.in_use == model.in_use
        model.cull_line()
        assert usage.queue_length == len(model.line)
        assert usage.named_assigned == len(model.named)
        assert usage.named_active == len(active)
        assert usage.named_quarantined == len(model.quarantined())
        assert usage.harvested_24h == model.harvests
        assert usage.in_use <= self.ceiling, "more pool holders than slots"
        self.ceiling = max(model.slots, min(self.ceiling, usage.in_use))
        self.holder_names_are_the_holders()

        counts = model.group_counts()
        shown = dict.fromkeys([g for g, _ in model.reserve + model.cap])
        shown |= dict.fromkeys(g for g, (members, _, _) in counts.items() if members)
        reserve, cap = dict(model.reserve), dict(model.cap)
        expected = {
            g: (
                reserve.get(g, 0),
                cap.get(g),
                *counts.get(g, (0, 0, 0)),
                model.group_denials.get(g, 0),
            )
            for g in shown
        }
        assert {
            g: (u.reserved, u.cap, u.in_use, u.in_reserve, u.in_shared, u.denials_24h)
            for g, u in usage.groups.items()
        } == expected
        for g, u in usage.groups.items():
            assert u.in_reserve <= u.in_use, "a reservation charged to someone outside its group"
            if g in self.group_ceiling:
                assert u.in_use <= self.group_ceiling[g], "more members holding slots than the cap"
                self.group_ceiling[g] = max(cap[g], min(self.group_ceiling[g], u.in_use))

    def holder_names_are_the_holders(self) -> None:
        """The index the console's search reads names every holder (live or not culled yet)
        and nobody else, whatever path their entry came or went by."""
        keys, store = self.engine.keys, self.store

        async def members(name: str) -> set[Any]:
            return set(await store.zrange(name, 0, -1))

        names = self.run(members(keys.holder_names))
        holders = self.run(members(keys.key("pool"))) | self.run(members(keys.key("active")))
        assert names == holders, "holder_names is not the holders' names"


class HarvestingMachine(LicenceMachine):
    """The same, with idle slots harvested after HARVEST s without a renewal (the steps of
    time, multiples of 300 s, never land on it)."""

    harvest = HARVEST

    @rule(person=st.sampled_from(PEOPLE), group=st.booleans(), groups=GROUP_SETS)
    def admit_after_an_idle_while(self, person: str, group: bool, groups: set[str]) -> None:
        # Holders idle past the threshold meeting a newcomer, often enough to be explored.
        self.advance(600)
        self.admit(person, group, groups)


for machine in (LicenceMachine, HarvestingMachine):
    machine.TestCase.settings = settings(
        max_examples=int(os.environ.get("HALO_GATE_PROPERTY_EXAMPLES", "50")),
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
test_engine_follows_the_model = LicenceMachine.TestCase
test_engine_follows_the_model_while_harvesting = HarvestingMachine.TestCase
