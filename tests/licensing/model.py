"""A plain Python model of the licence rules of DESIGN.md and the README's department pools,
on a clock the test moves; ``test_model.py`` checks the engine against it step by step."""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, field, replace
from typing import Any

IDLE = 1000
COOLDOWN = 1700
# The waiting line: a waiter's grace, an offer's life, the most waiters.
GRACE = 700
OFFER = 500
QUEUE_MAX = 2
Rules = tuple[tuple[str, int], ...]


@dataclass
class Model:
    """The licence rules of DESIGN.md, in plain Python, on a clock the test moves."""

    now: float = 0
    slots: int = 0
    seats: int = 0
    deployed: dict[str, Any] = field(default_factory=dict)
    named: set[str] = field(default_factory=set)
    quarantine: dict[str, float] = field(default_factory=dict)
    # person -> session -> expiry; expired sessions may linger, as they may in Redis.
    sessions: dict[str, dict[str, float]] = field(default_factory=dict)
    tombstones: set[str] = field(default_factory=set)
    # Expired sessions an end-all may or may not have found before they were culled.
    maybe_tombstones: set[str] = field(default_factory=set)
    # Pool rules: (group, slots) in order; a holder's charge and groups under them.
    reserve: Rules = ()
    cap: Rules = ()
    records: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    group_denials: dict[str, int] = field(default_factory=dict)
    # The waiting line: person -> (ticket, end of their place, groups under the rules), and
    # person -> end of the offer made to them.
    line: dict[str, tuple[int, float, tuple[str, ...]]] = field(default_factory=dict)
    offers: dict[str, float] = field(default_factory=dict)
    # person refused queue_full -> end of that refusal: asking again before is the same one
    refused: dict[str, float] = field(default_factory=dict)
    tickets: int = 0
    position: int = 0  # the last refusal's place in the line (0: none)
    walked: bool = False  # whether the last admission met people waiting
    # Harvesting: the threshold (s, 0: off); sessions harvested -> end of their mark; the
    # sessions the last admission harvested; the people harvested (a run is well under a day,
    # so all of them are the usage's last 24 hours).
    harvest: float = 0
    harvested: dict[str, float] = field(default_factory=dict)
    took: tuple[str, ...] = ()
    harvests: int = 0
    # session -> when it was last given its expiry (a count): of expiries equal on this clock,
    # the store's (in ms) is earlier for the one given first.
    touched: dict[str, int] = field(default_factory=dict)
    touches: int = 0

    # Harvesting

    def idle_holders(self) -> list[str]:
        """Pool holders without a renewal for the threshold or longer, longest idle first, at
        most four."""
        if not 0 < self.harvest < IDLE:
            return []
        holders = self.holders()
        idle = [p for p, expiry in holders.items() if expiry <= self.now + IDLE - self.harvest]

        def latest(person: str) -> tuple[float, int]:
            return max((e, self.touched.get(s, 0)) for s, e in self.live(person).items())

        return sorted(idle, key=latest)[:4]

    def serves_without(self, victim: str, person: str, mine: list[str]) -> bool:
        """Whether ``victim``'s slot, freed, would go to ``person`` (offers made on the way, as
        the line's walk makes them)."""
        sessions, record = self.sessions.pop(victim), self.records.pop(victim, None)
        try:
            if self.walked:
                return self.walk(person, mine) is None
            if self.pooled:
                return self.charge(mine)[1] is None
            return self.in_use < self.slots
        finally:
            self.sessions[victim] = sessions
            if record is not None:
                self.records[victim] = record

    def harvest_for(self, person: str, mine: list[str]) -> bool:
        """Harvests, for ``person`` refused a slot, the first idle holder whose slot would go to
        them; whether one was."""
        for victim in self.idle_holders():
            if self.serves_without(victim, person, mine):
                live = self.live(victim)
                self.sessions.pop(victim)
                self.records.pop(victim, None)
                self.harvested.update(dict.fromkeys(live, self.now + IDLE))
                self.took = tuple(sorted(live))
                self.harvests += 1
                return True
        return False

    # The waiting line

    def cull_line(self) -> None:
        for person, (_, until, _) in list(self.line.items()):
            if until <= self.now or self.offers.get(person, math.inf) <= self.now:
                self.leave(person)

    def leave(self, person: str) -> None:
        self.line.pop(person, None)
        self.offers.pop(person, None)

    def waiters(self) -> list[str]:
        return sorted(self.line, key=lambda person: self.line[person][0])

    def join(self, person: str, mine: list[str]) -> tuple[int, bool]:
        groups = tuple(dict.fromkeys(mine)) if self.pooled else ()
        if person in self.line:
            ticket = self.line[person][0]
            self.line[person] = (ticket, self.now + GRACE, groups)
            return self.waiters().index(person) + 1, False
        if len(self.line) >= QUEUE_MAX:
            return 0, False
        self.tickets += 1
        self.line[person] = (self.tickets, self.now + GRACE, groups)
        return len(self.line), True

    def walk(self, person: str, mine: list[str]) -> Refusal | None:
        """Serves, in simulation, the waiters ahead of ``person`` whom the free slots would
        serve; the refusal ``person`` then gets, or None."""
        used = self.in_use
        counts = {g: list(c) for g, c in self.group_counts().items()}
        reserved_held = self.reserved_held()
        for waiter in self.waiters():
            if waiter == person or used >= self.slots:
                break
            groups = list(self.line[waiter][2])
            charge, refusal = self.charge_with(groups, used, counts, reserved_held)
            if refusal is not None:
                continue  # skipped; an offer made earlier is withdrawn when they next ask
            self.offers.setdefault(waiter, self.now + OFFER)
            used += 1
            if charge:
                reserved_held += 1
                counts.setdefault(charge, [0, 0, 0])[1] += 1
            for group in groups:
                counts.setdefault(group, [0, 0, 0])[0] += 1
        refusal = self.charge_with(mine, used, counts, reserved_held)[1]
        if refusal is not None:
            self.offers.pop(person, None)
        return refusal

    def charge_with(
        self, mine: list[str], used: int, counts: dict[str, list[int]], reserved_held: int
    ) -> tuple[str, Refusal | None]:
        """The charge (or refusal, its wait not computed) on the counts given."""
        if not self.pooled:
            if used >= self.slots:
                return "", Refusal("pool_full", 0, None, self.slots, used)
            return "", None
        for group, cap in self.cap:
            held = counts.get(group, [0, 0, 0])[0]
            if group in mine and held >= cap:
                return "", Refusal("group_cap", 0, group, cap, held)
        if used >= self.slots:
            return "", Refusal("pool_full", 0, None, self.slots, used)
        for group, kept in self.reserve:
            if group in mine and counts.get(group, [0, 0, 0])[1] < kept:
                return group, None
        shared = self.slots - sum(kept for _, kept in self.reserve)
        if used - reserved_held < shared:
            return "", None
        return "", Refusal("pool_full", 0, None, max(shared, 0), used - reserved_held)

    def reserved_held(self) -> int:
        return sum(1 for p in self.holders() if (r := self.record(p)) and r[0])

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

    # Pool rules

    @property
    def pooled(self) -> bool:
        return bool(self.reserve or self.cap)

    def record(self, person: str) -> tuple[str, tuple[str, ...]] | None:
        return self.records.get(person) if person in self.holders() else None

    def group_counts(self) -> dict[str, tuple[int, int, int]]:
        """Group -> (members holding slots, charged to its reservation, members in shared)."""
        counts: dict[str, list[int]] = {}
        for person in self.holders():
            if (record := self.record(person)) is None:
                continue
            charge, groups = record
            if charge:
                counts.setdefault(charge, [0, 0, 0])[1] += 1
            for group in groups:
                counts.setdefault(group, [0, 0, 0])[0] += 1
                if not charge:
                    counts[group][2] += 1
        return {group: (m, r, s) for group, (m, r, s) in counts.items()}

    def wait_for(self, k: int, belongs: Any) -> float:
        holders = sorted(self.holders().items(), key=lambda item: item[1])
        leaving = [expiry for person, expiry in holders if belongs(self.record(person))]
        return leaving[k] - self.now if k < len(leaving) else IDLE

    def charge(self, mine: list[str]) -> tuple[str, Refusal | None]:
        """The charge of a new slot, or the refusal, as the README's rules say."""
        counts = self.group_counts()
        for group, cap in self.cap:
            held = counts.get(group, (0, 0, 0))[0]
            if group in mine and held >= cap:
                wait = self.wait_for(held - cap, lambda r, g=group: r is not None and g in r[1])
                return "", Refusal("group_cap", wait, group, cap, held)
        if self.in_use >= self.slots:
            return "", Refusal("pool_full", self.retry_after(), None, self.slots, self.in_use)
        for group, kept in self.reserve:
            if group in mine and counts.get(group, (0, 0, 0))[1] < kept:
                return group, None
        shared = self.slots - sum(kept for _, kept in self.reserve)
        held = self.in_use - self.reserved_held()
        if held < shared:
            return "", None
        limit = max(shared, 0)
        wait = self.wait_for(held - limit, lambda r: r is None or not r[0])
        return "", Refusal("pool_full", wait, None, limit, held)

    def admission(
        self, person: str, session: str, group: bool, groups: set[str], outcome: str
    ) -> tuple[str, Refusal | None]:
        """The outcome of admitting (or readmitting) a session; applies it. A refusal's
        position in the line is kept in ``self.position``."""
        self.position, self.walked, self.took = 0, False, ()
        marked = outcome == "readmitted" and self.harvested.get(session, 0) > self.now
        if person not in self.named and group and self.seat_free_for(person):
            self.take_seat(person)
        if person not in self.named and person not in self.holders():
            refusal = None
            charge, mine = "", [g for g, _ in self.reserve + self.cap if g in groups]
            if self.slots == 0:
                refusal = Refusal("no_licence", 0, None, self.slots, self.in_use)
            else:
                self.cull_line()
                self.walked = bool(self.line)
                if self.walked:
                    refusal = self.walk(person, mine)
                if refusal is not None:
                    pass
                elif self.pooled:
                    charge, refusal = self.charge(mine)
                elif self.in_use >= self.slots:
                    refusal = Refusal(
                        "pool_full", self.retry_after(), None, self.slots, self.in_use
                    )
                if refusal and refusal.outcome in ("pool_full", "group_cap"):
                    if self.harvest_for(person, mine):
                        charge, refusal = self.charge(mine) if self.pooled else ("", None)
            if refusal:
                self.sessions.get(person, {}).pop(session, None)
                joined = False
                if refusal.outcome in ("pool_full", "group_cap"):
                    self.position, joined = self.join(person, mine)
                    if self.position == 0:
                        refusal = Refusal("queue_full", *astuple(refusal)[1:])
                anew = joined
                if joined:
                    self.refused.pop(person, None)
                elif self.position == 0 and refusal.outcome == "queue_full":
                    anew = self.refused.get(person, -math.inf) <= self.now
                    self.refused[person] = self.now + GRACE
                elif self.position == 0:
                    anew = True
                if anew:
                    for g in set(mine) if self.pooled else ():
                        self.group_denials[g] = self.group_denials.get(g, 0) + 1
                if marked:
                    refusal = replace(refusal, reason="harvested")
                return refusal.outcome, refusal
            self.records.pop(person, None)
            if self.pooled and mine:
                self.records[person] = (charge, tuple(dict.fromkeys(mine)))
        self.sessions.setdefault(person, {})[session] = self.now + IDLE
        self.touches += 1
        self.touched[session] = self.touches
        if marked:
            del self.harvested[session]
        if outcome != "renewed":
            self.leave(person)
        return outcome, None

    def retry_after(self) -> float:
        expiries = sorted(self.holders().values())
        if self.in_use - self.slots >= len(expiries):
            return 1  # pool_wait() in context.lua answers a second when nobody is due
        return expiries[self.in_use - self.slots] - self.now


@dataclass(frozen=True)
class Refusal:
    outcome: str
    wait: float  # seconds until a slot of the kind that was full frees, at the latest
    group: str | None
    limit: int
    held: int
    reason: str = ""
