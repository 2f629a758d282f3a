"""The README's settings table names every setting, with its default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from halo_gate.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text()
    section = text[text.index("## Using halo-gate") :]
    for item in dataclasses.fields(Settings):
        assert f"| `HALO_GATE_{item.name.upper()}` |" in section, item.name
        default = item.default
        # An empty default marks a setting required in some modes; the table says which.
        if isinstance(default, int | str) and not isinstance(default, bool) and default != "":
            assert f"| `HALO_GATE_{item.name.upper()}` | `{default}` |" in section, item.name
