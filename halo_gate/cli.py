"""The ``halo-gate`` command. Each subcommand maps onto settings and the engine or the planner;
none reaches into the middleware."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .planner.commands import add_commands as add_planner_commands

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="halo-gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_planner_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
