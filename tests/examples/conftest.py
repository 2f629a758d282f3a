"""Each example app, configured from the environment, signed into through the built-in provider."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from starlette.testclient import TestClient

from halo_gate.cli.demo import IdentityProvider, Person, start_identity_provider
from tests.conftest import REDIS_URL, unique_instance

NAMED = Person("alice@example.com", "Alice", ("agents",))
POOLED = Person("bob@example.com", "Bob", ("hr",))

LoadExample = Callable[[str], ModuleType]


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    with start_identity_provider(people=[NAMED, POOLED]) as provider:
        yield provider


@pytest.fixture
def load_example(monkeypatch: pytest.MonkeyPatch, idp: IdentityProvider) -> Iterator[LoadExample]:
    """Imports an example afresh with ``HALO_GATE_*`` set, as ``uvicorn examples.x:app`` would."""
    instance = unique_instance()
    settings = {
        "SECRET_KEY": "an-example-signing-key-0123456789",
        "OIDC_ISSUER": idp.issuer,
        "OIDC_CLIENT_ID": idp.client_id,
        "OIDC_CLIENT_SECRET": idp.client_secret,
        "REDIS_URL": REDIS_URL,
        "INSTANCE": instance,
        "NAMED_SEATS": "1",
        "NAMED_USERS": NAMED.email,
        "CONCURRENT_SEATS": "1",
        "COOKIE_SECURE": "false",
    }
    for name, value in settings.items():
        monkeypatch.setenv("HALO_GATE_" + name, value)

    def load(name: str) -> ModuleType:
        return importlib.reload(importlib.import_module(f"examples.{name}"))

    yield load
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{{halo:{instance}}}:*", count=1000):
        client.delete(key)
    client.close()


def sign_in(browser: TestClient, sub: str) -> None:
    """The login as a browser does it: gateway, the provider's form, back to the callback."""
    to_provider = browser.get("/_halo/login", params={"next": "/"})
    assert to_provider.status_code == 302
    back = httpx.post(to_provider.headers["location"], data={"sub": sub}, timeout=10)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    landed = browser.get(f"{callback.path}?{callback.query}")
    assert landed.status_code in (302, 303), landed.text
    assert landed.headers["location"] == "/"
