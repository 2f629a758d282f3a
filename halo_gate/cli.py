"""The ``halo-gate`` command. Each subcommand maps onto settings and the engine or the planner;
none reaches into the middleware."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .admin.commands import add_commands as add_admin_commands
from .planner.commands import add_commands as add_planner_commands

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="halo-gate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_command(sub)
    add_planner_commands(sub)
    add_admin_commands(sub)
    return parser


def add_demo_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run an example app with a built-in identity provider and the embedded store",
        description="Run an example app behind HaloGate with a built-in identity provider and "
        "the embedded store: one named seat, two concurrent slots.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on (8000; 0: any)")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(host=args.host, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except BrokenPipeError:
        # The reader went away (`halo-gate plan ... | head`): stop quietly, as Unix tools do,
        # and keep Python from reporting the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
