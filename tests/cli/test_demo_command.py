"""``halo-gate demo`` as the README starts it: it serves, sends a browser to sign in at its
built-in identity provider, and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

COMMAND = Path(sys.executable).with_name("halo-gate")


def test_the_demo_command_serves_and_sends_to_sign_in() -> None:
    with subprocess.Popen(
        [str(COMMAND), "demo", "--port", "0"], stdout=subprocess.PIPE, text=True
    ) as demo:
        try:
            assert demo.stdout is not None
            found = None
            deadline = time.monotonic() + 60
            while found is None and time.monotonic() < deadline:
                line = demo.stdout.readline()
                assert line, "halo-gate demo exited before printing its address"
                found = re.search(r"open (http://\S+)/", line)
            assert found is not None, "halo-gate demo printed no address within 60 s"
            home = httpx.get(found.group(1) + "/", headers={"accept": "text/html"})
            assert home.status_code == 302
            assert home.headers["location"].startswith("/_halo/login")
            login = httpx.get(found.group(1) + home.headers["location"])
            assert login.status_code == 302
            assert "/oauth2/authorize" in login.headers["location"]  # the built-in provider
        finally:
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=30) == 0
