"""The settings reference (docs/reference/settings.md) names every setting, with its default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from halo_gate.config import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "settings.md"


def test_every_setting_is_in_the_reference_table() -> None:
    section = PAGE.read_text()
    for item in dataclasses.fields(Settings):
        assert f"| `HALO_GATE_{item.name.upper()}` |" in section, item.name
        default = item.default
        # An empty default marks a setting required in some modes; the table says which.
        if isinstance(default, int | str) and not isinstance(default, bool) and default != "":
            assert f"| `HALO_GATE_{item.name.upper()}` | `{default}` |" in section, item.name
