"""The documentation site: it builds with ``mkdocs build --strict`` (a broken link, a missing
page or a page left out of the navigation fails), its generated pages are what their
generators print, and every command or Python snippet in it is run by a test or marked as
illustrative."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# A fenced block in one of these languages is code a reader may copy and run.
RUNNABLE = {"python", "py", "bash", "sh", "shell", "console"}
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
MARK = re.compile(r"<!--\s*(illustrative(?::[^>]*)?|run|tested by ([\w/.]+)(?:::(\w+))?)\s*-->\s*$")


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks() -> list[tuple[Path, int, str, str, str]]:
    """(page, line, language, the mark before the block, its body) for every runnable block."""
    found = []
    for page in pages():
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group("lang") not in RUNNABLE:
                continue
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            line = text.count("\n", 0, match.start()) + 1
            found.append((page, line, match.group("lang"), before, match.group("body")))
    return found


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.fail(
            "The documentation tests need MkDocs (the 'docs' extra); scripts/test installs it."
        )
    built = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "reference" / "settings" / "index.html").exists()


def test_every_runnable_block_is_run_or_marked_illustrative() -> None:
    unmarked = []
    for page, line, _lang, before, _body in blocks():
        mark = MARK.match(before)
        if mark is None:
            unmarked.append(f"{page.relative_to(ROOT)}:{line}")
            continue
        if mark.group(2):  # "tested by tests/x.py::name": that test must exist
            test_file = ROOT / mark.group(2)
            assert test_file.exists(), f"{page.name}:{line} names {mark.group(2)}, which is missing"
            if mark.group(3):
                assert f"def {mark.group(3)}(" in test_file.read_text(), (page.name, line)
    assert not unmarked, "blocks neither run nor marked illustrative: " + ", ".join(unmarked)


RUN = [
    (page, line, lang, body)
    for page, line, lang, before, body in blocks()
    if (m := MARK.match(before)) is not None and m.group(1) == "run"
]


@pytest.mark.parametrize(
    ("page", "line", "lang", "body"),
    RUN,
    ids=[f"{page.stem}:{line}" for page, line, _, _ in RUN],
)
def test_the_blocks_marked_run_run(
    page: Path, line: int, lang: str, body: str, tmp_path: Path
) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if lang in ("python", "py"):
        command = [sys.executable, "-c", body]
    else:
        lines = [line.removeprefix("$ ") for line in body.splitlines()]
        script = "\n".join(line for line in lines if not line.startswith("#"))
        command = ["bash", "-euo", "pipefail", "-c", script]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{page.name}:{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def _generator(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_line_reference_is_what_the_parser_prints() -> None:
    generator: object = _generator("cli_reference")
    written = (DOCS / "reference" / "cli.md").read_text()
    assert written == generator.reference(), (  # type: ignore[attr-defined]
        "docs/reference/cli.md is out of date: run scripts/cli_reference.py > docs/reference/cli.md"
    )
