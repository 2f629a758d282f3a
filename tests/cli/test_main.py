"""The ``halo-gate`` command as a shell pipeline sees it."""

from __future__ import annotations

import subprocess
import sys


def test_closed_pipe_ends_quietly() -> None:
    command = [sys.executable, "-m", "halo_gate.cli", "simulate", "--profile", "guide"]
    command += ["--days", "3", "--seed", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        assert reader.stdout.readline().startswith(b"person,")
        reader.stdout.close()  # as `| head -1` does
        stderr = reader.stderr.read()
        reader.wait(timeout=60)
    assert b"Traceback" not in stderr
    assert reader.returncode == 1
