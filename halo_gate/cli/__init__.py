"""The ``halo-gate`` command. Each subcommand maps onto settings and the engine or the planner;
none reaches into the middleware."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import extras
from ..admin.commands import add_commands as add_admin_commands

Command = Callable[[argparse.Namespace], int]
# What `halo-gate --help` says first: plain text, as a terminal shows it.
DESCRIPTION = (
    "Run, inspect and plan a halo-gate installation. The administrators' commands read the "
    "HALO_GATE_* settings of the store (HALO_GATE_REDIS_URL, HALO_GATE_INSTANCE) and act on "
    "it directly; `halo-gate COMMAND --help` says more."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="halo-gate", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_command(sub)
    add_serve_command(sub)
    if extras.missing("planner", "plan") is None:
        from ..planner.commands import add_commands as add_planner_commands

        add_planner_commands(sub)
    else:
        extras.add_placeholders(sub, ("cost", "simulate", "plan"), "planner")
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


def add_serve_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the gateway on its own, for forward auth from nginx, Traefik or Caddy",
        description="Run the gateway on its own (uvicorn), configured by the HALO_GATE_* "
        "variables: its routes under the prefix, plus GET /_halo/auth for nginx auth_request, "
        "Traefik ForwardAuth and Caddy forward_auth.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    absent = extras.missing("serve", "serve")
    if absent is not None:
        print(absent, file=sys.stderr)
        return 2
    import uvicorn

    from ..config import ConfigError, Settings

    try:
        Settings.load()  # a bad setting is one sentence here, not a traceback per worker
    except ConfigError as error:
        print(f"halo-gate serve: {error}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("halo-gate serve: --workers must be at least 1.", file=sys.stderr)
        return 2
    os.environ["FORWARDED_ALLOW_IPS"] = ""  # as proxy_headers=False below: nobody is trusted
    uvicorn.run(
        "halo_gate.cli.serve:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # The peer address stays the real one: trust is never taken from X-Forwarded-For.
        proxy_headers=False,
        log_level="info",
    )
    return 0


def run_demo(args: argparse.Namespace) -> int:
    absent = extras.missing("demo", "demo")
    if absent is not None:
        print(absent, file=sys.stderr)
        return 2
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
