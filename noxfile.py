"""Two runs beside the locked one of scripts/test, each in a virtual environment of its own
under .nox/ (Redis, nginx and chromium as scripts/test installs them):

- ``nox -s lowest``: the lowest versions pyproject.toml allows for the project's own
  dependencies (their dependencies at their newest): the middleware imports on its own, and the
  engine's contract tests, the gateway's tests and the store's connection tests pass.
- ``nox -s latest``: the newest release of every dependency and tool: mypy --strict and the
  whole suite.

Arguments after ``--`` go to pytest: ``nox -s latest -- -m "not slow"``.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
# The dev tools, pinned exactly (mypy checks this file too, so nox is among them).
TOOLS = nox.project.dependency_groups(PYPROJECT, "dev")
EXTRAS = ".[planner,demo,serve,examples]"
# The middleware's own install: every module a request or the CLI touches imports.
IMPORT_CHECK = (
    "import halo_gate, halo_gate.cli, halo_gate.admin, halo_gate.licensing; "
    "from halo_gate import HaloGate; "
    "HaloGate(lambda *a: None, secret_key='k' * 16, oidc_issuer='https://idp.test', "
    "oidc_client_id='c', oidc_client_secret='s')"
)
# What each run installed, for its log.
SHOW_VERSIONS = (
    "import importlib.metadata as m\n"
    "for name in ('starlette', 'authlib', 'httpx2', 'joserfc', 'redis', 'fakeredis', 'mypy'):\n"
    "    print(name, m.version(name))"
)


@nox.session
def lowest(session: nox.Session) -> None:
    """The lowest direct versions: import, engine contract tests, gateway tests."""
    session.install("--resolution", "lowest-direct", ".")
    session.run("python", "-c", IMPORT_CHECK)
    session.install("--resolution", "lowest-direct", EXTRAS, *TOOLS)
    session.run("python", "-c", SHOW_VERSIONS)
    session.run(
        "pytest",
        "tests/licensing",
        "tests/gateway",
        "tests/resilience/test_connections.py",
        "tests/admin/test_ended.py",
        *session.posargs,
    )


@nox.session
def latest(session: nox.Session) -> None:
    """The newest versions of everything: mypy --strict and the whole suite."""
    newest = [tool.split("==")[0] for tool in TOOLS]
    # The whole suite builds the documentation site too.
    everything = EXTRAS.replace("]", ",docs]")
    session.install("--upgrade", "--resolution", "highest", everything, *newest)
    session.run("python", "-c", SHOW_VERSIONS)
    session.run("mypy")
    session.run("pytest", *session.posargs)
