"""Redis servers (and Sentinels) that a test starts on ports of its own and always stops.

The shared server at 127.0.0.1:6379 is never reconfigured: a test that needs an eviction
policy, an idle timeout or a failover gets a private server for it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.support import free_port

START_WITHIN = 10.0


def redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail(
            "These tests start their own Redis servers and Sentinels, which needs the "
            "redis-server program (Debian package redis-server); it is not installed."
        )
    return path


class Server:
    """One redis-server process (a Sentinel when ``sentinel``)."""

    def __init__(self, folder: Path, port: int, lines: list[str], *, sentinel: bool) -> None:
        self.port = port
        self.config = folder / f"{'sentinel' if sentinel else 'redis'}-{port}.conf"
        common = [
            f"port {port}",
            "bind 127.0.0.1",
            "daemonize no",
            f"dir {folder}",
            'save ""',
            "appendonly no",
            f"logfile {folder}/{port}.log",
        ]
        if sentinel:
            common = [line for line in common if not line.startswith(("save", "appendonly"))]
        self.config.write_text("\n".join(common + lines) + "\n")
        command = [redis_server(), str(self.config)] + (["--sentinel"] if sentinel else [])
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_until_answering()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server on port {self.port} exited; see {self.config}.")
            try:
                with self.client() as client:
                    client.ping()
                return
            except (OSError, RedisError):
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server on port {self.port} did not answer within {START_WITHIN} s.")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Servers:
    """Starts servers in one temporary folder; ``stop_all`` ends every one of them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Server] = []

    def redis(self, *lines: str, port: int | None = None) -> Server:
        server = Server(self.folder, port or free_port(), list(lines), sentinel=False)
        self.started.append(server)
        return server

    def sentinel(self, *lines: str, port: int | None = None) -> Server:
        server = Server(self.folder, port or free_port(), list(lines), sentinel=True)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@contextmanager
def servers() -> Iterator[Servers]:
    with tempfile.TemporaryDirectory(prefix="halo-redis-") as folder:
        started = Servers(Path(folder))
        try:
            yield started
        finally:
            started.stop_all()
