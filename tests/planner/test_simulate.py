"""The simulator: seeded, shaped like the guide's organisation, and driven by TOML profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from halo_gate.planner.intervals import merge_sessions, sweep
from halo_gate.planner.profiles import GUIDE, ProfileError, load_profile
from halo_gate.planner.simulate import simulate
from halo_gate.planner.usage import usage_from_records


def test_same_seed_same_sessions_and_another_seed_differs() -> None:
    first = list(simulate(GUIDE, days=2, seed=5))
    assert first == list(simulate(GUIDE, days=2, seed=5))
    assert first != list(simulate(GUIDE, days=2, seed=6))
    assert all(end > start for _, _, start, end in first)


def test_guide_has_150_power_users_and_the_others_peak_near_100() -> None:
    assert GUIDE.people == 500
    power = [g for g in GUIDE.groups if g.whole_shift]
    assert sum(g.people for g in power) == 150
    sessions = list(simulate(GUIDE, days=14, seed=1))
    casual = merge_sessions(
        usage_from_records(
            (p, s, e)
            for p, group, s, e in sessions
            if not any(g.name == group and g.whole_shift for g in GUIDE.groups)
        )
    )
    assert 80 <= sweep(casual.start, casual.end).peak <= 120
    assert len(np.unique(casual.owner)) <= 350


def test_a_toml_profile(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(
        'name = "night desk"\n'
        "[[groups]]\n"
        'name = "Night desk"\npeople = 3\nshifts = ["22:00-06:00"]\nworkdays = "Mon-Sun"\n'
        "utc_offset = 1\nwhole_shift = true\n",
        encoding="utf-8",
    )
    profile = load_profile(str(path))
    assert profile.name == "night desk" and profile.people == 3
    sessions = list(simulate(profile, days=7, seed=0))
    # Every night from 22:00 local (21:00 UTC) to 06:00 local, give or take the jitter.
    assert {person for person, *_ in sessions} == {
        f"night-desk-{n:04d}@example.org" for n in (1, 2, 3)
    }
    # Local 22:00-06:00 at UTC+1 is 21:00-05:00 UTC, give or take the jitter.
    assert {start % 86400 // 3600 for _, _, start, _ in sessions} <= {20, 21, 22, 23, 0, 1, 2, 3}
    assert len({start // 86400 for _, _, start, _ in sessions}) >= 7


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no [[groups]]"),
        ('[[groups]]\nname = "A"\npeople = 1\nshifts = ["nine to five"]\n', "not like '07:00"),
        ('[[groups]]\nname = "A"\npeople = 1\nworkdays = "Someday"\n', "not like 'Mon-Fri'"),
        ('[[groups]]\nname = "A"\npeople = 1\ncolour = "red"\n', "unknown field 'colour'"),
        ('[[groups]]\nname = "A"\npeople = 1\npresence = 2\n', "out of range"),
        ("[[groups]\n", "not TOML"),
    ],
)
def test_bad_profiles_name_the_problem(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=words.replace("[", r"\[")):
        load_profile(str(path))


def test_an_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="neither a built-in"):
        load_profile("no-such-profile")
