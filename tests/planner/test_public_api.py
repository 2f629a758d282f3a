"""The planner's public names: sorted, all present, and SciPy loaded only when planning."""

from __future__ import annotations

import subprocess
import sys

import halo_gate.planner as planner


def test_all_is_sorted_and_every_name_exists() -> None:
    assert planner.__all__ == sorted(planner.__all__, key=lambda name: (not name.isupper(), name))
    for name in planner.__all__:
        assert getattr(planner, name) is not None


def test_other_commands_start_without_scipy() -> None:
    code = "import sys, halo_gate.cli; print('scipy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
