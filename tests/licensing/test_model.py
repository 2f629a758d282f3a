"""A stateful property test: the engine on the real server against a plain model of the rules.

Hypothesis drives admit / heartbeat / release / end / assign / unassign / resize / configure and
the passing of time. After every step the engine's usage must equal the model's counts, live
pool holders never exceed the slots (except right after a shrink, when nobody new gets in), and
named people are always admitted. ``HALO_GATE_PROPERTY_EXAMPLES`` (default 50) sets the number
of runs.

Time moves in steps of 300 s, while the idle timeout (1000 s) and the seat cooldown (1700 s) are
not multiples of 300, so no check ever lands on the millisecond where an entry expires. The
maximum age is beyond any run's horizon (it has its own tests in ``test_engine.py``).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from redis.asyncio import Redis

from halo_gate.licensing import Decision, LicenceEngine

from ..conftest import REDIS_URL, drop_instance, unique_instance

IDLE = 1000
COOLDOWN = 1700
MAX_AGE = 10**7
PEOPLE = ("ann", "bob", "cat", "dan")
LIVE = ("admitted", "renewed", "readmitted")
T = TypeVar("T")


@dataclass
class Model:
    """The licence rules of DESIGN.md, in plain Python, on a clock the test moves."""

    now: float = 0
    slots: int = 0
    seats: int = 0
    deployed: dict[str, int] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)
    quarantine: dict[str, float] = field(default_factory=dict)
    # person -> session -> expiry; expired sessions may linger, as they may in Redis.
    sessions: dict[str, dict[str, float]] = field(default_factory=dict)
    tombstones: set[str] = field(default_factory=set)
    # Expired sessions an end-all may or may not have found before they were culled.
    maybe_tombstones: set[str] = field(default_factory=set)

    def live(self, person: str) -> dict[str, float]:
        return {s: e for s, e in self.sessions.get(person, {}).items() if e > self.now}

    def holders(self) -> dict[str, float]:
        """Pool holders -> when their slot frees (their latest session's expiry)."""
        return {
            p: max(live.values())
            for p in self.sessions
            if p not in self.named and (live := self.live(p))
        }

    @property
    def in_use(self) -> int:
        return len(self.holders())

    def quarantined(self) -> set[str]:
        return {p for p, until in self.quarantine.items() if until > self.now}

    def seat_free_for(self, person: str) -> bool:
        held = len(self.named) + len(self.quarantined() - {person})
        return held < self.seats

    def take_seat(self, person: str) -> None:
        self.named.add(person)
        self.quarantine.pop(person, None)

    def admission(self, person: str, session: str, group: bool, outcome: str) -> str:
        """The outcome of admitting (or readmitting) a session; applies it."""
        if person not in self.named and group and self.seat_free_for(person):
            self.take_seat(person)
        if person not in self.named and person not in self.holders():
            refusal = ""
            if self.slots == 0:
                refusal = "no_licence"
            elif self.in_use >= self.slots:
                refusal = "pool_full"
            if refusal:
                self.sessions.get(person, {}).pop(session, None)
                return refusal
        self.sessions.setdefault(person, {})[session] = self.now + IDLE
        return outcome

    def retry_after(self) -> float:
        expiries = sorted(self.holders().values())
        return expiries[self.in_use - self.slots] - self.now


class LicenceMachine(RuleBasedStateMachine):
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
        )
        self.model = Model()
        self.counter = 0
        self.known: dict[str, list[str]] = {p: [] for p in PEOPLE}
        self.ceiling = 0  # the most pool holders allowed now: slots, or more just after a shrink

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
        self.ceiling = max(self.model.slots, self.model.in_use)

    # The deployment and the administrators

    @initialize(slots=st.integers(0, 3), seats=st.integers(0, 2))
    def deploy(self, slots: int, seats: int) -> None:
        self.configure(slots, seats, [])

    @rule(
        slots=st.integers(0, 3),
        seats=st.integers(0, 2),
        listed=st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True),
    )
    def configure(self, slots: int, seats: int, listed: list[str]) -> None:
        left = self.run(
            self.engine.configure(concurrent_seats=slots, named_seats=seats, named_users=listed)
        )
        model = self.model
        if model.deployed.get("slots") != slots:
            model.slots = model.deployed["slots"] = slots
        if model.deployed.get("seats") != seats:
            model.seats = model.deployed["seats"] = seats
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
        if model.live(person) and model.in_use - 1 >= model.slots:
            # No slot for the sessions the seat held: they end (without a tombstone).
            model.sessions.pop(person, None)

    # People

    def check_admission(self, person: str, decision: Decision, expected: str, named: bool) -> None:
        model = self.model
        assert decision.outcome == expected, (person, decision)
        if named:
            assert decision.admitted, "a named person is always admitted"
        assert decision.in_use == model.in_use
        assert decision.capacity == model.slots
        if decision.admitted:
            assert decision.licence == ("named" if person in model.named else "concurrent")
        if decision.outcome == "pool_full":
            assert decision.retry_after == pytest.approx(math.ceil(model.retry_after()), abs=5)

    @rule(person=st.sampled_from(PEOPLE), group=st.booleans())
    def admit(self, person: str, group: bool) -> None:
        self.counter += 1
        session = f"{person}-{self.counter}"
        self.known[person].append(session)
        named = person in self.model.named
        decision = self.run(self.engine.admit(person, session, named_group=group))
        expected = self.model.admission(person, session, group, "admitted")
        self.check_admission(person, decision, expected, named)

    @rule(person=st.sampled_from(PEOPLE), group=st.booleans(), data=st.data())
    def heartbeat(self, person: str, group: bool, data: st.DataObject) -> None:
        if not self.known[person]:
            return
        session = data.draw(st.sampled_from(self.known[person]))
        model = self.model
        named = person in model.named
        decision = self.run(self.engine.heartbeat(person, session, named_group=group))
        if session in model.tombstones:
            assert decision.outcome == "ended"
            return
        if session in model.maybe_tombstones:
            model.maybe_tombstones.discard(session)
            if decision.outcome == "ended":
                model.tombstones.add(session)
                return
        if session in model.live(person):
            expected = model.admission(person, session, group, "renewed")
        else:
            expected = model.admission(person, session, group, "readmitted")
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
        assert usage.named_assigned == len(model.named)
        assert usage.named_active == len(active)
        assert usage.named_quarantined == len(model.quarantined())
        assert usage.in_use <= self.ceiling, "more pool holders than slots"
        self.ceiling = max(model.slots, min(self.ceiling, usage.in_use))


LicenceMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("HALO_GATE_PROPERTY_EXAMPLES", "50")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_engine_follows_the_model = LicenceMachine.TestCase
