"""The engine's Lua as a Redis Functions library, and as scripts where a server has none.

Every key a call touches is proven declared on a real server: a private Redis is watched with
MONITOR while every operation runs, and each command a call runs inside Redis names only keys
among those the call passed (the server itself says which arguments are keys).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fakeredis
import pytest
from redis import Redis as SyncRedis
from redis.exceptions import ResponseError

from halo_gate.licensing import LicenceEngine, connect
from halo_gate.licensing.calls import Calls
from halo_gate.licensing.library import OPERATIONS, declared_keys, library

from ..conftest import unique_instance
from ..resilience.servers import Server, servers
from .exercise import exercise_every_script

LINE = re.compile(r"^\S+ \[\d+ ([^\]]*)\] (.*)$")
ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"')
ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b"}


def unescaped(argument: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("x") and len(code) == 3:
            return chr(int(code[1:], 16))
        return ESCAPES.get(code, code)

    return ESCAPE.sub(one, argument)


def monitored(lines: list[str]) -> list[tuple[str, list[str]]]:
    """MONITOR's lines as (client, arguments)."""
    found = []
    for line in lines:
        match = LINE.match(line)
        if match:
            arguments = [unescaped(a) for a in ARGUMENT.findall(match.group(2))]
            found.append((match.group(1), arguments))
    return found


def keys_of(client: SyncRedis, arguments: list[str]) -> list[str]:
    """The arguments of a command that are keys, as the server reads them."""
    try:
        keys = client.command_getkeys(*arguments)
    except ResponseError:
        return []  # a command without keys (TIME)
    return [key.decode() if isinstance(key, bytes) else str(key) for key in keys]


@pytest.fixture
def server() -> Iterator[Server]:
    with servers() as started:
        yield started.redis()


@pytest.fixture
async def private_engine(server: Server) -> AsyncIterator[LicenceEngine]:
    store = connect(server.url)
    yield LicenceEngine(store, instance=unique_instance())
    await store.aclose()


class Monitor:
    """redis-cli's MONITOR of a server, written to a file while it runs."""

    def __init__(self, server: Server, folder: Path) -> None:
        self.output = folder / "monitor.txt"
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                ["redis-cli", "-p", str(server.port), "monitor"], stdout=out
            )
        with server.client() as client:
            deadline = time.monotonic() + 10
            while "monitor-ready" not in self.output.read_text():
                assert time.monotonic() < deadline, "MONITOR did not start"
                client.echo("monitor-ready")
                time.sleep(0.05)

    def stop(self) -> list[str]:
        time.sleep(0.2)  # the last lines reach the file
        self.process.terminate()
        self.process.wait(timeout=10)
        return self.output.read_text().splitlines()


@pytest.mark.parametrize("functions", [True, False], ids=["fcall", "evalsha"])
async def test_every_key_a_call_touches_is_declared(
    server: Server, private_engine: LicenceEngine, tmp_path: Path, functions: bool
) -> None:
    engine = private_engine
    if not functions:
        engine._calls.functions = False
    monitor = Monitor(server, tmp_path)
    try:
        await exercise_every_script(engine)
    finally:
        lines = monitor.stop()
    calls = undeclared = 0
    declared: set[str] | None = None
    with server.client() as client:
        for source, arguments in monitored(lines):
            if source != "lua":
                command = arguments[0].upper()
                declared = None
                if command in ("FCALL", "EVALSHA"):
                    calls += 1
                    declared = set(arguments[3 : 3 + int(arguments[2])])
                continue
            assert declared is not None, f"a command outside any call: {arguments}"
            for key in keys_of(client, arguments):
                if key not in declared:
                    undeclared += 1
                    pytest.fail(f"{arguments[0]} touched {key!r}, not among the call's KEYS")
    assert calls >= 20 and undeclared == 0
    kind = "FCALL" if functions else "EVALSHA"
    assert any(arguments[0].upper() == kind for _, arguments in monitored(lines))


async def test_a_renewal_reads_the_persons_entry_not_all_their_sessions(
    server: Server, private_engine: LicenceEngine, tmp_path: Path
) -> None:
    engine = private_engine
    await engine.configure(concurrent_seats=5, named_seats=0, pool_cap="hr=5")
    for tab in range(20):
        await engine.admit("bob@x.org", f"bob-{tab}", groups=["hr"])
    monitor = Monitor(server, tmp_path)
    try:
        renewed = await engine.heartbeat("bob@x.org", "bob-7", groups=["hr"])
    finally:
        lines = monitor.stop()
    assert renewed.outcome == "renewed"
    commands = [arguments[0].upper() for source, arguments in monitored(lines) if source == "lua"]
    assert "HGETALL" not in commands and "HKEYS" not in commands
    assert len(commands) <= 8, commands


def test_every_operation_has_a_header_of_keys() -> None:
    for name in OPERATIONS:
        names, _ = declared_keys(name, library().operations[name].script)
        assert names == library().operations[name].keys
        assert len(set(names)) == len(names)


def test_a_header_without_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="KEYS"):
        declared_keys("broken", "-- Does something.\n-- ARGV: [1] x\nreturn 1\n")


async def test_the_library_is_loaded_again_when_the_server_has_lost_it(
    private_engine: LicenceEngine, server: Server
) -> None:
    engine = private_engine
    await engine.configure(concurrent_seats=2, named_seats=0)
    await engine.admit("a@x.org", "a")
    with server.client() as client:
        assert client.function_list(library=library().name)
        client.function_flush()  # the server restarted without it (a private server)
    assert (await engine.admit("b@x.org", "b")).outcome == "admitted"
    assert (await engine.usage()).in_use == 2
    assert engine._calls.functions is True


async def test_a_server_without_functions_runs_the_operations_as_scripts() -> None:
    store = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(version=(6, 2)))
    engine = LicenceEngine(store, instance=unique_instance())
    try:
        await exercise_every_script(engine)
        assert engine._calls.functions is False
        await engine.configure(concurrent_seats=2, named_seats=0)
        await store.script_flush()  # a private server: the scripts are loaded again
        assert (await engine.admit("a@x.org", "a")).outcome == "admitted"
        assert (await engine.usage()).in_use == 2  # Gus and a
    finally:
        await store.aclose()


@pytest.mark.parametrize("functions", [True, False], ids=["fcall", "evalsha"])
async def test_an_error_names_the_lua_file_and_line(
    private_engine: LicenceEngine, functions: bool
) -> None:
    # Settings that do not parse stop the call in context.lua's begin().
    calls = Calls(private_engine.store, private_engine.keys, (1, 2))
    calls.functions = None if functions else False
    with pytest.raises(ResponseError) as raised:
        await calls.call("check", "a@x.org", ["a@x.org", "s"], (), 0)
    message = str(raised.value)
    assert re.search(r"context\.lua:\d+", message), message
    assert "user_function" not in message and "user_script" not in message
    line = int(re.search(r"context\.lua:(\d+)", message).group(1))  # type: ignore[union-attr]
    source = (Path(__file__).parents[2] / "halo_gate/licensing/scripts/context.lua").read_text()
    assert "tonumber" in source.splitlines()[line - 1] or "NOW" in source.splitlines()[line - 1]
