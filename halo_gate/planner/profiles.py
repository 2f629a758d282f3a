"""Organisation profiles for the usage simulator: groups of people with hours, shifts, time
zones and habits. ``guide`` is the guide's 500-person organisation; others come from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the group and the field."""


@dataclass(frozen=True, kw_only=True)
class Group:
    """People who work alike.

    Each person works one of ``shifts`` (local ``(start_hour, end_hour)``; an end at or before
    the start crosses midnight), given out in turn, on ``workdays`` (0 = Monday), and turns up on
    a given working day with probability ``presence``. A ``whole_shift`` person is signed in for
    the whole shift, sometimes with a break; anyone else signs in ``sessions_per_day`` times on
    average, for ``session_minutes`` on average each, at random moments of the shift.

    Of the sessions at least as long as the gateway's idle timeout, a share ``idle_share`` ended
    by idling out: the person walked away without signing out, so the session's last stretch,
    as long as the timeout, held the slot with nobody there.
    """

    name: str
    people: int
    shifts: tuple[tuple[float, float], ...] = ((9.0, 17.0),)
    workdays: frozenset[int] = frozenset(range(5))
    utc_offset: float = 0.0
    presence: float = 1.0
    whole_shift: bool = False
    sessions_per_day: float = 1.0
    session_minutes: float = 30.0
    idle_share: float = 0.0


@dataclass(frozen=True)
class Profile:
    name: str
    groups: tuple[Group, ...]

    @property
    def people(self) -> int:
        return sum(group.people for group in self.groups)

    def scaled(self, factor: float) -> Profile:
        """The same organisation with every group's head count multiplied by ``factor``."""
        return Profile(
            f"{self.name} x{factor:g}",
            tuple(replace(g, people=max(1, round(g.people * factor))) for g in self.groups),
        )


WEEKDAYS = frozenset(range(5))
# An assumption of the synthetic profile, not a measurement: half the occasional users' long
# enough sessions end by closing the tab rather than signing out.
OCCASIONAL_IDLE = 0.5
EVERY_DAY = frozenset(range(7))

# The guide's organisation: 150 people who live in the tool (service desk, IT managers, field
# engineers) and 350 occasional users whose simultaneous peak is about 100.
GUIDE = Profile(
    "guide",
    (
        Group(
            name="IT service desk agents",
            people=100,
            shifts=((7, 15), (8, 16), (10, 18), (12, 20)),
            presence=0.92,
            whole_shift=True,
        ),
        Group(
            name="IT service desk agents (APAC)",
            people=10,
            shifts=((8, 16),),
            utc_offset=8,
            presence=0.92,
            whole_shift=True,
        ),
        Group(name="IT managers", people=15, shifts=((8, 18),), presence=0.9, whole_shift=True),
        Group(
            name="Field engineers",
            people=25,
            shifts=((6, 14), (14, 22), (22, 6)),
            workdays=EVERY_DAY,
            presence=5 / 7,
            whole_shift=True,
        ),
        Group(
            name="HR",
            people=60,
            shifts=((9, 17),),
            presence=0.9,
            sessions_per_day=3,
            session_minutes=60,
            idle_share=OCCASIONAL_IDLE,
        ),
        Group(
            name="Finance",
            people=50,
            shifts=((8.5, 17.5),),
            presence=0.9,
            sessions_per_day=3,
            session_minutes=60,
            idle_share=OCCASIONAL_IDLE,
        ),
        Group(
            name="Facilities",
            people=40,
            shifts=((7, 16),),
            presence=0.9,
            sessions_per_day=3,
            session_minutes=60,
            idle_share=OCCASIONAL_IDLE,
        ),
        Group(
            name="All-staff self-service",
            people=190,
            shifts=((8, 18),),
            presence=0.9,
            sessions_per_day=2,
            session_minutes=30,
            idle_share=OCCASIONAL_IDLE,
        ),
        Group(
            name="VIPs",
            people=10,
            shifts=((7, 22),),
            workdays=EVERY_DAY,
            presence=0.5,
            sessions_per_day=1,
            session_minutes=15,
            idle_share=OCCASIONAL_IDLE,
        ),
    ),
)

BUILT_IN = {"guide": GUIDE}


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or one read from a TOML file."""
    if name_or_path in BUILT_IN:
        return BUILT_IN[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(BUILT_IN))
        raise ProfileError(f"Profile {name_or_path!r} is neither a built-in ({known}) nor a file.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"Profile file {name_or_path} is not TOML: {exc}.") from None
    return profile_from_dict(data, default_name=path.stem)


def profile_from_dict(data: dict[str, Any], default_name: str = "custom") -> Profile:
    """A profile from parsed TOML: a ``name`` and a ``[[groups]]`` table per group."""
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups:
        raise ProfileError("Profile has no [[groups]] tables.")
    return Profile(str(data.get("name", default_name)), tuple(_group(g) for g in groups))


def _group(raw: Any) -> Group:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ProfileError("Profile group has no name.")
    name: str = raw["name"]
    known = {
        "name", "people", "shifts", "workdays", "utc_offset", "presence",
        "whole_shift", "sessions_per_day", "session_minutes", "idle_share",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ProfileError(f"Profile group {name!r} has unknown field {unknown[0]!r}.")
    fields: dict[str, Any] = {"name": name}
    try:
        fields["people"] = _number(raw, "people", int, minimum=0)
        if "shifts" in raw:
            fields["shifts"] = tuple(_shift(text) for text in raw["shifts"])
        if "workdays" in raw:
            fields["workdays"] = _workdays(str(raw["workdays"]))
        for key in ("utc_offset", "sessions_per_day", "session_minutes"):
            if key in raw:
                fields[key] = _number(raw, key, float, minimum=-24.0 if key == "utc_offset" else 0)
        for key in ("presence", "idle_share"):
            if key in raw:
                fields[key] = _number(raw, key, float, minimum=0, maximum=1)
        if "whole_shift" in raw:
            fields["whole_shift"] = bool(raw["whole_shift"])
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"Profile group {name!r}: {exc}") from None
    return Group(**fields)


def _number(
    raw: dict[str, Any], key: str, kind: type, minimum: float, maximum: float | None = None
) -> Any:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"field {key!r} has value {value!r}, not a number.")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"field {key!r} has value {value!r}, out of range.")
    return kind(value)


def _shift(text: str) -> tuple[float, float]:
    """``"07:00-15:30"`` as hours ``(7.0, 15.5)``."""
    try:
        begin, finish = (part.strip() for part in str(text).split("-"))
        return _hours(begin), _hours(finish)
    except ValueError:
        raise ValueError(f"shift {text!r} is not like '07:00-15:00'.") from None


def _hours(text: str) -> float:
    hour, _, minute = text.partition(":")
    value = int(hour) + int(minute or 0) / 60
    if not 0 <= value <= 24:
        raise ValueError(text)
    return value


def _workdays(text: str) -> frozenset[int]:
    """``"Mon-Fri"``, ``"Mon-Sun"`` or ``"Mon,Wed,Fri"``."""
    days: set[int] = set()
    for part in text.lower().split(","):
        begin, _, finish = part.strip().partition("-")
        try:
            first = DAY_NAMES.index(begin[:3])
            last = DAY_NAMES.index(finish[:3]) if finish else first
        except ValueError:
            raise ValueError(f"workdays {text!r} is not like 'Mon-Fri'.") from None
        days.update(
            range(first, last + 1) if last >= first else [*range(first, 7), *range(last + 1)]
        )
    return frozenset(days)
