"""The simulator: seeded, shaped like the guide's organisation, and driven by TOML profiles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from halo_gate.planner.intervals import merge_sessions, sweep
from halo_gate.planner.profiles import GUIDE, Profile, ProfileError, load_profile
from halo_gate.planner.simulate import simulate
from halo_gate.planner.usage import usage_from_records


def test_same_seed_same_sessions_and_another_seed_differs() -> None:
    first = list(simulate(GUIDE, days=2, seed=5))
    assert first == list(simulate(GUIDE, days=2, seed=5))
    assert first != list(simulate(GUIDE, days=2, seed=6))
    assert all(end > start for _, _, start, end, _ in first)


def test_guide_has_150_power_users_and_the_others_peak_near_100() -> None:
    assert GUIDE.people == 500
    power = [g for g in GUIDE.groups if g.whole_shift]
    assert sum(g.people for g in power) == 150
    sessions = list(simulate(GUIDE, days=14, seed=1))
    casual = merge_sessions(
        usage_from_records(
            (p, s, e)
            for p, group, s, e, _ in sessions
            if not any(g.name == group and g.whole_shift for g in GUIDE.groups)
        )
    )
    assert 80 <= sweep(casual.start, casual.end).peak <= 120
    assert len(np.unique(casual.owner)) <= 350


def test_idled_out_sessions_are_long_enough_and_leave_the_times_alone() -> None:
    sessions = list(simulate(GUIDE, days=7, seed=2, idle_timeout=1800))
    idle = [(group, end - start) for _, group, start, end, reason in sessions if reason == "idle"]
    whole_shift = {g.name for g in GUIDE.groups if g.whole_shift}
    assert idle and all(length >= 1800 for _, length in idle)
    assert not any(group in whole_shift for group, _ in idle)
    long_occasional = [
        reason
        for _, group, start, end, reason in sessions
        if group not in whole_shift and end - start >= 1800
    ]
    # The guide assumes half of them ended by idling out.
    assert 0.4 < long_occasional.count("idle") / len(long_occasional) < 0.6
    # End reasons come from their own generator: the times are the same whatever the share.
    never = Profile("never", tuple(replace(g, idle_share=0.0) for g in GUIDE.groups))
    assert [s[:4] for s in simulate(never, days=7, seed=2)] == [s[:4] for s in sessions]


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
    assert {start % 86400 // 3600 for _, _, start, _, _ in sessions} <= {20, 21, 22, 23, 0, 1, 2, 3}
    assert len({start // 86400 for _, _, start, _, _ in sessions}) >= 7


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no [[groups]]"),
        ('[[groups]]\nname = "A"\npeople = 1\nshifts = ["nine to five"]\n', "not like '07:00"),
        ('[[groups]]\nname = "A"\npeople = 1\nworkdays = "Someday"\n', "not like 'Mon-Fri'"),
        ('[[groups]]\nname = "A"\npeople = 1\ncolour = "red"\n', "unknown field 'colour'"),
        ('[[groups]]\nname = "A"\npeople = 1\npresence = 2\n', "out of range"),
        ('[[groups]]\nname = "A"\npeople = 1\nidle_share = -0.5\n', "out of range"),
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
