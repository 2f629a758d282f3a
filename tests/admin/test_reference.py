"""The API reference page is the one its script writes from the OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from halo_gate.admin.api import OPERATIONS
from halo_gate.admin.reference import default_document, kind, markdown

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "api.md"


def test_the_committed_reference_is_what_the_script_writes() -> None:
    assert PAGE.read_text() == markdown(default_document()), (
        "docs/reference/api.md is out of date: run scripts/api_reference.py"
    )


def test_the_script_writes_the_page_and_notices_one_that_drifted(tmp_path: Path) -> None:
    page = tmp_path / "reference" / "api.md"

    def script(*options: str) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, str(ROOT / "scripts" / "api_reference.py"), "--page", str(page)]
        return subprocess.run([*command, *options], capture_output=True)

    assert script("--check").returncode == 1  # no page yet
    assert script().returncode == 0 and page.read_text() == PAGE.read_text()
    assert script("--check").returncode == 0
    page.write_text(page.read_text().replace("GET /_halo/api/usage", "GET /_halo/api/usages"))
    drifted = script("--check")
    assert drifted.returncode == 1 and b"out of date" in drifted.stdout


def test_the_reference_names_every_operation_and_its_answers() -> None:
    page = markdown(default_document())
    for operation in OPERATIONS:
        section = page.split(f"### `{operation.method} /_halo{operation.path}`\n", 1)
        assert len(section) == 2, (operation.method, operation.path)
        table = section[1].split("\n### ", 1)[0]
        for status in operation.answers:
            assert f"| answer | {status} |" in table, (operation.path, status)
        for param in operation.query:
            assert f"`{param.name}` (query)" in table, (operation.path, param.name)
    assert "### `GET /_halo/me`" in page


def test_a_schema_is_told_in_a_few_words() -> None:
    assert kind({"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}) == (
        "integer, 1 to 1,000, default `50`"
    )
    assert kind({"type": "array", "items": {"$ref": "#/components/schemas/Error"}}) == (
        "list of [Error](#error)"
    )
    assert kind({"type": ["string", "null"], "enum": ["named", None]}) == "one of `named`, null"
