"""``halo-gate check``: are the settings valid, does the store answer, does the identity
provider publish its discovery document? Prints the settings with secrets masked."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import Any

import httpx2 as httpx
from starlette.datastructures import Secret

from ..config import ConfigError, Settings
from ..config.installation import engine_for
from ..config.settings import PREFIX
from ..config.settings import _mask_url as mask_url
from ..config.startup import eviction_warning
from ..licensing import StoreUnavailable

TIMEOUT = 5.0


async def _problems(settings: Settings) -> list[str]:
    problems = []
    engine = engine_for(settings)
    try:
        async with asyncio.timeout(TIMEOUT):
            await engine.ping()
        if settings.redis_url is not None:
            evicting = await eviction_warning(engine.store)
            if evicting is not None:
                print(f"halo-gate: warning: {evicting}", file=sys.stderr)
    except (StoreUnavailable, TimeoutError, OSError) as error:
        problems.append(f"The licence store at HALO_GATE_REDIS_URL did not answer ({error}).")
    finally:
        await engine.store.aclose()
    if settings.identity == "oidc":
        url = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        problems += await _document("The discovery document", url, "authorization_endpoint")
    elif settings.jwt_jwks_url is not None and "{kid}" not in settings.jwt_jwks_url:
        # HALO_GATE_IDENTITY=jwt: the proxy's keys instead (one per id cannot be listed).
        problems += await _document("The key set", settings.jwt_jwks_url, "keys")
    return problems


async def _document(what: str, url: str, field: str) -> list[str]:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(url)
        if response.status_code != 200:
            return [f"{what} {url} answered {response.status_code}."]
        if field not in response.json():
            return [f"{what} {url} names no {field}."]
    except (httpx.HTTPError, ValueError) as error:
        return [f"{what} {url} could not be read ({error})."]
    return []


def _shown(name: str, value: Any) -> str:
    """A setting's value as the table shows it: secrets masked, lists comma-separated."""
    if isinstance(value, Secret) or (
        isinstance(value, tuple) and value and isinstance(value[0], Secret)
    ):
        return "********" if value else "(unset)"
    if name == "redis_url":
        return mask_url(value) or "(unset: the embedded store)"
    if value is None or value == () or value == "":
        return "(unset)"
    if isinstance(value, tuple | frozenset):
        return ",".join(
            f"{item[0]}={item[1]}" if isinstance(item, tuple) else str(item) for item in value
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_table(settings: Settings) -> str:
    """One line per setting: its variable, its value, and whether it was set or is the
    default."""
    defaults = {item.name: item.default for item in dataclasses.fields(Settings)}
    rows = []
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        origin = "default" if defaults.get(item.name) == value else "set"
        rows.append((PREFIX + item.name.upper(), _shown(item.name, value), origin))
    width = max(len(name) for name, _, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}  ({origin})" for name, value, origin in rows)


def run_check(args: argparse.Namespace) -> int:
    try:
        settings = Settings.load()
    except ConfigError as error:
        print(f"halo-gate: {error}", file=sys.stderr)
        return 1
    print(settings_table(settings))
    print("checking the store and the identity provider…", file=sys.stderr, flush=True)
    problems = asyncio.run(_problems(settings))
    for problem in problems:
        print(f"halo-gate: {problem}", file=sys.stderr)
    if not problems:
        print("settings valid; the store and the identity provider answer")
    return 1 if problems else 0
