"""Optional parts of the install: the planner (numpy, SciPy), the demo (uvicorn, the mock
identity provider) and ``halo-gate serve`` (uvicorn). The middleware needs none of them, so
``pip install halo-gate`` leaves them out and a command that needs one says which extra to
install."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable

EXTRAS: dict[str, tuple[str, ...]] = {
    "planner": ("numpy", "scipy"),
    "demo": ("uvicorn", "oidc_provider_mock"),
    "serve": ("uvicorn",),
}


def missing(extra: str, command: str) -> str | None:
    """One sentence saying how to install ``extra``, or None when it is installed."""
    absent = [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]
    if not absent:
        return None
    return (
        f"halo-gate {command} needs the '{extra}' extra ({', '.join(absent)} not installed): "
        f"pip install 'halo-gate[{extra}]'."
    )


def add_placeholders(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], commands: tuple[str, ...], extra: str
) -> None:
    """Commands whose extra is missing: listed in ``--help``, each answering with the sentence."""
    for command in commands:
        parser = sub.add_parser(command, help=f"(needs the '{extra}' extra)", add_help=False)
        parser.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(run=_refuse(extra, command))


def _refuse(extra: str, command: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(missing(extra, command) or f"halo-gate {command} could not start.", file=sys.stderr)
        return 2

    return run
