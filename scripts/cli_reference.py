"""Writes the command line's reference page from its own parser, so the page cannot drift:

    .venv/bin/python scripts/cli_reference.py > docs/reference/cli.md

``tests/docs/test_reference.py`` checks that the committed page is what this prints.
"""

from __future__ import annotations

import argparse
import os
import sys

WIDTH = "100"


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def _section(name: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} `{name}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for child, subparser in _subparsers(parser):
        lines += _section(f"{name} {child}", subparser, level + 1)
    return lines


def reference() -> str:
    """The page: every command's and subcommand's ``--help``, as a terminal shows it."""
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal's width
    from halo_gate.cli import build_parser

    parser = build_parser()
    lines = [
        "# Command line",
        "",
        "Every `halo-gate` command, as its `--help` prints it (this page is written from the",
        "parser itself by `scripts/cli_reference.py`). The administrators' commands act on the",
        "installation that `HALO_GATE_REDIS_URL` and `HALO_GATE_INSTANCE` name; see the",
        "[command line guide](../guides/cli.md).",
        "",
    ]
    for name, subparser in _subparsers(parser):
        lines += _section(f"halo-gate {name}", subparser, 2)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
