"""Department pools: slots of the concurrent pool reserved for, or capped to, a group's members.

The rules are applied inside the admission script (``P.charge`` in ``scripts/charges.lua``);
this module reads them from settings, checks them, and writes them as the store keeps them:
``"group=N,..."``, in the order given (slots are charged to reservations in that order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Each rule: (group, slots), in the order given.
Rules = tuple[tuple[str, int], ...]
RulesInput = Mapping[str, int] | Iterable[tuple[str, int]] | str


class PoolRulesError(ValueError):
    """Pool rules that are malformed or that conflict; the message is one sentence."""


def parse(text: str) -> Rules:
    """``"service-desk=10,vip=2"`` as rules; raises :class:`PoolRulesError` naming the entry."""
    rules: list[tuple[str, int]] = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        group, sign, number = entry.rpartition("=")
        rules.append(_rule(group.strip(), number.strip(), entry.strip(), bool(sign)))
    return _unique(rules)


def _rule(group: str, number: str, entry: str, has_sign: bool) -> tuple[str, int]:
    if not has_sign or not group or not number.isdigit() or not number.isascii():
        raise PoolRulesError(f"The entry {entry!r} is not group=N with N a whole number.")
    if "," in group or any(ord(char) < 0x20 or char == "\x7f" for char in group):
        raise PoolRulesError(f"The group in {entry!r} holds a comma or a control character.")
    return group, int(number)


def _unique(rules: Iterable[tuple[str, int]]) -> Rules:
    seen: set[str] = set()
    for group, _ in rules:
        if group in seen:
            raise PoolRulesError(f"The group {group!r} is named twice.")
        seen.add(group)
    return tuple(rules)


def normalise(rules: RulesInput) -> Rules:
    """Rules from text, a mapping or (group, slots) pairs, checked as :func:`parse` does."""
    if isinstance(rules, str):
        return parse(rules)
    pairs = rules.items() if isinstance(rules, Mapping) else rules
    checked = []
    for group, slots in pairs:
        if not isinstance(group, str) or not isinstance(slots, int) or isinstance(slots, bool):
            raise PoolRulesError(f"The rule {group!r}={slots!r} is not a group and a number.")
        if slots < 0:
            raise PoolRulesError(f"The rule {group}={slots} has a negative number.")
        checked.append(_rule(group.strip(), str(slots), f"{group}={slots}", True))
    return _unique(checked)


def as_text(rules: Rules) -> str:
    return ",".join(f"{group}={slots}" for group, slots in rules)


def conflict(reserve: Rules, cap: Rules, slots: int) -> str | None:
    """Why ``reserve`` and ``cap`` cannot hold together in a pool of ``slots``, or None."""
    caps = dict(cap)
    for group, kept in reserve:
        if group in caps and kept > caps[group]:
            return f"the reservation for {group!r} ({kept}) is above its cap ({caps[group]})"
    total = sum(kept for _, kept in reserve)
    if total > slots:
        return f"the reservations add up to {total} slots, more than the pool's {slots}"
    return None


@dataclass(frozen=True, slots=True)
class PoolRules:
    """The rules in force, and their generation (it changes with every change of the rules)."""

    reserve: Rules = ()
    cap: Rules = ()
    generation: str = "0"
    groups: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def from_store(cls, generation: str, reserve: str, cap: str) -> PoolRules:
        # The store only ever holds rules written by as_text().
        reserve_rules, cap_rules = parse(reserve), parse(cap)
        groups = frozenset(group for group, _ in reserve_rules + cap_rules)
        return cls(reserve_rules, cap_rules, generation, groups)


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """One group's share of the pool: its rules and the slots its members hold."""

    reserved: int  # slots kept for members (shown as reserved, never as in use, while idle)
    cap: int | None  # most slots members may hold together; None for no cap
    in_use: int  # slots members hold, charged to any reservation or to the shared part
    in_reserve: int  # slots charged to this group's reservation
    in_shared: int  # members' slots charged to the shared part
    denials_24h: int  # refusals of members over the last 24 hours

    def as_json(self) -> dict[str, int | None]:
        return {
            "reserved": self.reserved,
            "cap": self.cap,
            "in_use": self.in_use,
            "in_reserve": self.in_reserve,
            "in_shared": self.in_shared,
            "denials_24h": self.denials_24h,
        }
