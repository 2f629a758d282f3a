"""What an idle policy costs: the record replayed as if another idle timeout, or harvesting,
had been in force, and the plan on that.

A session that ended by idling out (``end_reason`` ``idle``) held its slot for the idle timeout
in force when it was recorded past its last activity, so that activity was at ``end - recorded``
(never before the session's start). Under an idle timeout S it would have ended at that last
activity + S. With harvesting after H, its slot would have passed to whoever next needed it
from last activity + H on. For the pool's size that is the same as the session ending there:
a pool of ``s`` refuses a login under harvesting exactly when ``s`` people are online who have
not been idle for H, which is what the shortened sessions count, and the harvested person had
no activity left in that session (a later one is recorded as its own session). So both are
one rule: an idled-out session ends at last activity + min(S, H). A threshold equal to the
timeout changes nothing.

Sessions that ended otherwise (logout, maximum age, an administrator, still open) stay as
recorded: the record does not know their idle stretches. Nor does it know idle stretches that
never reached the timeout, and last activity is known only to within the heartbeat interval
(each heartbeat renews the expiry). A longer timeout joins an idled-out session to the same
person's next one when they now overlap: per-person merging does that.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cost import annual, exact, money
from .fit import Fit, fit
from .intervals import merge_sessions
from .usage import Mask, Record, Times, UsageLog, usage_from_records

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


class NoEndReasons(ValueError):
    """The record does not say which sessions idled out."""


@dataclass(frozen=True)
class Policy:
    """An idle timeout and a harvest threshold (seconds); None keeps what was in force."""

    idle_timeout: int | None = None
    harvest_idle: int | None = None

    def held_for(self, recorded_idle_timeout: int) -> int:
        """How long past its last activity an idle session holds its slot."""
        timeout = recorded_idle_timeout if self.idle_timeout is None else self.idle_timeout
        return timeout if self.harvest_idle is None else min(timeout, self.harvest_idle)

    def describe(self) -> str:
        """``harvesting after 10 minutes``, ``an idle timeout of 15 minutes``, or both."""
        parts = []
        if self.idle_timeout is not None:
            parts.append(f"an idle timeout of {minutes(self.idle_timeout)}")
        if self.harvest_idle is not None:
            parts.append(f"harvesting after {minutes(self.harvest_idle)}")
        return " with ".join(parts) or "the policy in force"


def minutes(seconds: int) -> str:
    value = seconds / 60
    return "1 minute" if value == 1 else f"{value:g} minutes"


def idled_out(log: UsageLog) -> Mask:
    """Which sessions ended by idling out; :class:`NoEndReasons` if the record does not say."""
    if log.idle is None:
        raise NoEndReasons(
            "The usage has no end_reason column, so which sessions idled out is unknown."
        )
    return log.idle


def under_policy(log: UsageLog, policy: Policy, recorded_idle_timeout: int) -> UsageLog:
    """The sessions as they would have been under ``policy`` (see the module docstring)."""
    idle = idled_out(log)
    last_activity = np.maximum(log.start, log.end - recorded_idle_timeout)
    end = np.where(idle, last_activity + policy.held_for(recorded_idle_timeout), log.end)
    return UsageLog(log.people, log.owner, log.start, np.maximum(end, log.start), idle)


@dataclass(frozen=True, kw_only=True)
class PolicySaving:
    """The exact optimum on the record as it was, and under ``policy``."""

    policy: Policy
    recorded_idle_timeout: int
    idled_out: int  # sessions that ended by idling out
    named_before: int
    slots_before: int
    named_after: int
    slots_after: int
    price_named: float
    price_concurrent: float
    # Whether both splits are proven optima; False when a time limit stopped a search (see
    # ``policy_saving``), and the figures compare the best splits found by then.
    exact: bool = True

    @property
    def fewer_slots(self) -> int:
        return self.slots_before - self.slots_after

    @property
    def fewer_named(self) -> int:
        return self.named_before - self.named_after

    @property
    def annual_saving(self) -> float:
        return annual(self.fewer_named, self.price_named) + annual(
            self.fewer_slots, self.price_concurrent
        )

    def needs(self) -> str:
        """``7 fewer slots``, ``2 more slots and 1 fewer named seat``."""
        needs = [_fewer(self.fewer_slots, "slot")]
        if self.fewer_named:
            needs.append(_fewer(self.fewer_named, "named seat"))
        return " and ".join(needs)

    def cost(self, currency: str = "GBP") -> str:
        """The saving: ``£11,760 a year``, or ``£840 a year more``."""
        saving = self.annual_saving
        amount = money(abs(saving))
        symbol = SYMBOLS.get(currency)
        amount = f"{symbol}{amount}" if symbol else f"{amount} {currency}"
        return f"{amount} a year" + (" more" if saving < 0 else "")

    def sentence(self, currency: str = "GBP") -> str:
        """``harvesting after 10 minutes would have needed 7 fewer slots (£11,760 a year)``."""
        return f"{self.policy.describe()} would have needed {self.needs()} ({self.cost(currency)})"

    def as_json(self, currency: str = "GBP") -> dict[str, Any]:
        return {
            "idle_timeout": self.policy.idle_timeout,
            "harvest_idle": self.policy.harvest_idle,
            "recorded_idle_timeout": self.recorded_idle_timeout,
            "sessions_idled_out": self.idled_out,
            "in_force": {"named": self.named_before, "concurrent_slots": self.slots_before},
            "under_policy": {"named": self.named_after, "concurrent_slots": self.slots_after},
            "fewer_slots": self.fewer_slots,
            "fewer_named": self.fewer_named,
            "annual_saving": exact(self.annual_saving),
            "sentence": self.sentence(currency),
        }


def _fewer(count: int, thing: str) -> str:
    plural = "" if abs(count) == 1 else "s"
    if count == 0:
        return f"no fewer {thing}s"
    return f"{abs(count)} {'fewer' if count > 0 else 'more'} {thing}{plural}"


def policy_saving(
    log: UsageLog,
    policy: Policy,
    *,
    recorded_idle_timeout: int,
    price_named: float,
    price_concurrent: float,
    time_limit: float | None = None,
    recorded: Fit | None = None,
) -> PolicySaving:
    """The exact optimum on ``log`` as recorded against the one under ``policy``. With
    ``time_limit`` (seconds) both searches together stop by then (``OutOfTime`` when one has
    no split yet), and the saving says whether both were proven. ``recorded``: the optimum on
    ``log`` at these prices when already found (a plan's ``fitted``), not searched again."""
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def optimum(merged: UsageLog, hint: Times | None = None) -> Fit:
        left = None if deadline is None else deadline - time.monotonic()
        return fit(merged, price_named, price_concurrent, hint=hint, time_limit=left)

    replayed = under_policy(log, policy, recorded_idle_timeout)
    before = recorded or optimum(merge_sessions(log))
    # The instants that bound the record's optimum start the replay's search: most still do.
    after = optimum(merge_sessions(replayed), before.split.instants)
    return PolicySaving(
        policy=policy,
        recorded_idle_timeout=recorded_idle_timeout,
        idled_out=int(idled_out(log).sum()),
        named_before=int(before.named.sum()),
        slots_before=before.slots,
        named_after=int(after.named.sum()),
        slots_after=after.slots,
        price_named=price_named,
        price_concurrent=price_concurrent,
        exact=before.split.lower_bound is None and after.split.lower_bound is None,
    )


def harvest_saving(
    records: Iterable[Record],
    *,
    harvest_idle: int,
    idle_timeout: int,
    price_named: float,
    price_concurrent: float,
) -> PolicySaving:
    """For the console: what harvesting after ``harvest_idle`` seconds would have saved on the
    session record's ``(person, start, end, end_reason)`` rows, recorded under ``idle_timeout``.
    Its ``sentence(currency)`` is the line shown beside the recommended split."""
    return policy_saving(
        usage_from_records(records),
        Policy(harvest_idle=harvest_idle),
        recorded_idle_timeout=idle_timeout,
        price_named=price_named,
        price_concurrent=price_concurrent,
    )
