"""Startup warnings: a HALO_GATE_* variable that names no setting, a Redis that may evict."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from halo_gate import HaloGate
from halo_gate.config import Settings
from halo_gate.config.startup import eviction_warning, unknown_variables

from .servers import servers

REQUIRED = {
    "HALO_GATE_SECRET_KEY": "k" * 16,
    "HALO_GATE_OIDC_ISSUER": "https://idp.test",
    "HALO_GATE_OIDC_CLIENT_ID": "client",
    "HALO_GATE_OIDC_CLIENT_SECRET": "secret",
}


def test_a_misspelt_variable_is_named_with_the_closest_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {**REQUIRED, "HALO_GATE_REDIS_CLUSTER_URLS": "redis+cluster://r:7000"}
    with caplog.at_level(logging.WARNING, logger="halo_gate"):
        settings = Settings.load(environ)
    assert settings.redis_url is None
    assert caplog.messages == [
        "HALO_GATE_REDIS_CLUSTER_URLS is not a halo-gate setting and is ignored; "
        "did you mean HALO_GATE_REDIS_URL?"
    ]


def test_known_settings_and_test_knobs_are_not_warned_about() -> None:
    environ = {
        **REQUIRED,
        "HALO_GATE_IDLE_TIMEOUT": "900",
        "HALO_GATE_TEST_REDIS_URL": "redis://x",
        "PATH": "/bin",
    }
    names = [name.removeprefix("HALO_GATE_").lower() for name in REQUIRED]
    assert unknown_variables(environ, "HALO_GATE_", [*names, "idle_timeout"]) == []
    environ["HALO_GATE_XYZZY"] = "1"
    assert unknown_variables(environ, "HALO_GATE_", [*names, "idle_timeout"]) == [
        "HALO_GATE_XYZZY is not a halo-gate setting and is ignored."
    ]


def test_a_clock_skew_setting_is_read_and_checked() -> None:
    assert Settings.load(REQUIRED).clock_skew == 5
    assert Settings.load({**REQUIRED, "HALO_GATE_CLOCK_SKEW": "2"}).clock_skew == 2
    with pytest.raises(ValueError, match="HALO_GATE_CLOCK_SKEW has value '-1'"):
        Settings.load({**REQUIRED, "HALO_GATE_CLOCK_SKEW": "-1"})


@pytest.mark.redis
@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru", "noeviction"])
async def test_a_server_that_may_evict_is_warned_about_at_startup(
    policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    with servers() as started:
        server = started.redis(f"maxmemory-policy {policy}", "maxmemory 64mb")
        store = Redis.from_url(server.url)
        try:
            warning = await eviction_warning(store)
            gate = HaloGate(Starlette(), redis_url=server.url, **_overrides())
            with caplog.at_level(logging.WARNING, logger="halo_gate"):
                await gate.ensure_configured()
            await gate.aclose()
        finally:
            await store.aclose()
    if policy == "noeviction":
        assert warning is None
        assert not [m for m in caplog.messages if "maxmemory-policy" in m]
    else:
        assert warning is not None and f"maxmemory-policy is {policy}, not noeviction" in warning
        assert warning in caplog.messages


async def test_the_eviction_check_never_holds_startup_up() -> None:
    # A server that accepts the connection and never answers: the check gives up quietly.
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    store = Redis(host="127.0.0.1", port=port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await eviction_warning(store, timeout=0.3) is None
    assert loop.time() - started < 1.0
    await store.aclose()
    for writer in accepted:
        writer.close()
    listener.close()
    await listener.wait_closed()


def _overrides() -> dict[str, str]:
    return {name.removeprefix("HALO_GATE_").lower(): value for name, value in REQUIRED.items()}


@pytest.mark.redis
def test_halo_gate_check_warns_about_a_server_that_may_evict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from halo_gate.cli import main

    with servers() as started:
        server = started.redis("maxmemory-policy allkeys-random", "maxmemory 64mb")
        for variable, value in {**REQUIRED, "HALO_GATE_REDIS_URL": server.url}.items():
            monkeypatch.setenv(variable, value)
        main(["check"])  # the identity provider is not there: that is a problem of its own
    err = capsys.readouterr().err
    assert "halo-gate: warning: Redis maxmemory-policy is allkeys-random, not noeviction" in err
    assert "Traceback" not in err
