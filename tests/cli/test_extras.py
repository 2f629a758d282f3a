"""The light install: the middleware and the CLI start without the planner's and the demo's
packages, and a command that needs one of them names the extra to install."""

from __future__ import annotations

import subprocess
import sys

# Run in a fresh interpreter where the extras' packages cannot be imported, as after a plain
# `pip install halo-gate` (a None entry in sys.modules makes an import fail).
BLOCK = (
    "import sys\n"
    "for name in ('numpy', 'scipy', 'uvicorn', 'oidc_provider_mock', 'flask', 'werkzeug'):\n"
    "    sys.modules[name] = None\n"
)


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60
    )


def test_middleware_works_without_extras() -> None:
    result = run(
        "from halo_gate import HaloGate\n"
        "gate = HaloGate(lambda *a: None, secret_key='k' * 16, oidc_issuer='https://idp.test',\n"
        "    oidc_client_id='c', oidc_client_secret='s')\n"
        "print(type(gate).__name__)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "HaloGate"


def test_planner_command_names_its_extra() -> None:
    result = run("from halo_gate.cli import main\nsys.exit(main(['plan', 'usage.csv']))\n")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "halo-gate plan needs the 'planner' extra" in result.stderr
    assert "pip install 'halo-gate[planner]'" in result.stderr


def test_demo_command_names_its_extra() -> None:
    result = run("from halo_gate.cli import main\nsys.exit(main(['demo']))\n")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "pip install 'halo-gate[demo]'" in result.stderr


def test_help_lists_every_command_without_extras() -> None:
    result = run("from halo_gate.cli import main\nmain(['--help'])\n")
    assert result.returncode == 0, result.stderr
    for command in ("demo", "cost", "simulate", "plan"):
        assert command in result.stdout


def test_serve_command_names_its_extra() -> None:
    result = run("from halo_gate.cli import main\nsys.exit(main(['serve']))\n")
    assert result.returncode == 2
    assert "pip install 'halo-gate[serve]'" in result.stderr
