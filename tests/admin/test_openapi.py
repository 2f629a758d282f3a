"""The administrators' API against its OpenAPI document: Schemathesis drives a running gateway
on the real Redis with valid and invalid requests to every operation, and every answer must be
one the document names, with the fields it names.

Each operation gets Schemathesis's coverage cases (boundary values, missing and malformed
parameters, undeclared methods, requests without credentials) and
``HALO_GATE_SCHEMATHESIS_EXAMPLES`` generated ones of each mode (default 6, a few seconds in
all; 300 take about a minute).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from redis.asyncio import Redis
from schemathesis import Case, GenerationMode

from halo_gate import HaloGate
from halo_gate.admin.api import OPERATIONS
from halo_gate.admin.openapi import document
from halo_gate.licensing import LicenceEngine
from halo_gate.session import Session, new_session_id
from tests.conftest import REDIS_URL, drop_instance, unique_instance
from tests.gateway.conftest import NO_IDP, Server, make_app

pytestmark = pytest.mark.redis

TOKEN = "an-admin-token-0123456789"
ADMIN = "root@example.com"
EXAMPLES = int(os.environ.get("HALO_GATE_SCHEMATHESIS_EXAMPLES", "6"))
OPENAPI = "/_halo/api/openapi.json"


@dataclass(frozen=True)
class Gateway:
    url: str
    cookie_name: str
    admin_cookie: str  # an administrator's session, for /_halo/me


async def _seed(gate: HaloGate) -> str:
    """A named seat, a full pool of two with a person waiting, and the administrator's own
    session; returns the administrator's cookie."""
    client = Redis.from_url(REDIS_URL)
    settings = gate.settings
    engine = LicenceEngine(
        client,
        instance=settings.instance,
        idle_timeout=settings.idle_timeout,
        session_max_age=settings.session_max_age,
    )
    try:
        assert await engine.assign("named@example.com", by="test") == "assigned"
        agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        for person in ("named@example.com", "one@example.com", "two@example.com"):
            decision = await engine.admit(person, new_session_id(), user_agent=agent)
            assert decision.admitted, person
        waiter = await engine.admit("three@example.com", new_session_id(), user_agent=agent)
        assert waiter.position == 1
        session_id = new_session_id()
        root = await engine.admit(ADMIN, session_id, user_agent="curl/8.5")
        assert root.admitted and root.licence == "named"
    finally:
        await client.aclose()
    return gate.codec.encode(Session(session_id, ADMIN, "named", int(gate.clock())))


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    settings: dict[str, Any] = {
        **{name.lower(): value for name, value in NO_IDP.items()},
        "redis_url": REDIS_URL,
        "instance": unique_instance(),
        "admins": ADMIN,
        "admin_token": TOKEN,
        "concurrent_seats": 2,
        "named_seats": 3,
        "named_users": ADMIN,
    }
    gate = HaloGate(make_app(), **settings)
    server = Server(gate)
    server.start()
    try:
        cookie = asyncio.run(_seed(gate))
        yield Gateway(server.url, gate.settings.cookie_name, cookie)
    finally:
        server.stop()

        async def drop() -> None:
            client = Redis.from_url(REDIS_URL)
            await drop_instance(client, gate.settings.instance)
            await client.aclose()

        asyncio.run(drop())


# The document as the gateway builds it from the API's declarations (the test below proves
# the served one is the same): pytest parametrizes over its operations when it collects.
DOCUMENT = document(tuple(OPERATIONS), "/_halo", "halo_session")
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(
    max_examples=EXAMPLES,
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    # The credentials are the test's (below), never generated ones.
    with_security_parameters=False,
)


def _groups(rules: object) -> list[str]:
    if isinstance(rules, str):
        entries = [entry for entry in rules.split(",") if entry.strip()]
        return [entry.rpartition("=")[0].strip() for entry in entries]
    return [group.strip() for group in rules] if isinstance(rules, dict) else []


@schema.hook
def filter_body(context: Any, body: Any) -> bool:
    """Pool rules naming one group twice are refused (400), as the document says, but no JSON
    Schema keyword can say it: such bodies are left out of the valid ones generated."""
    if not isinstance(body, dict):
        return True
    for name in ("pool_reserve", "pool_cap"):
        groups = _groups(body.get(name))
        if len(groups) != len(set(groups)):
            return False
    return True


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Case[Any], gateway: Gateway) -> None:
    case.call_and_validate(
        base_url=gateway.url,
        # Named as the document's security schemes name them, so that Schemathesis can take
        # them away to check that the API then refuses.
        headers={"Authorization": f"Bearer {TOKEN}"},
        cookies={gateway.cookie_name: gateway.admin_cookie},
    )


def test_the_document_is_served_to_administrators_only(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        served = client.get(OPENAPI, headers={"authorization": f"Bearer {TOKEN}"})
        assert served.status_code == 200 and served.json() == DOCUMENT
        assert client.get(OPENAPI).status_code == 401
        wrong = client.get(OPENAPI, headers={"authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "bad_token"


def test_the_document_names_every_operation_the_api_dispatches(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        token = {"authorization": f"Bearer {TOKEN}"}
        document = client.get(OPENAPI, headers=token).json()
        documented = {
            (method.upper(), path) for path, item in document["paths"].items() for method in item
        }
        declared = {(op.method, "/_halo" + op.path) for op in OPERATIONS}
        assert documented == declared | {("GET", "/_halo/me")}
        # A method no declaration names is refused, saying which ones the resource answers.
        refused = client.post("/_halo/api/named/x@example.com", headers=token)
        assert refused.status_code == 405 and refused.headers["allow"] == "PUT, DELETE"


def test_an_audit_id_the_store_would_refuse_is_a_bad_request_not_a_store_failure(
    gateway: Gateway,
) -> None:
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {TOKEN}"}) as c:
        for before in ("0", "0-0"):
            page = c.get("/_halo/api/events", params={"before": before})
            assert page.status_code == 200, page.text
            assert page.json()["events"] == [] and page.json()["next_before"] is None
        for before in ("99999999999999999999999", "1-", "1\n", "x"):
            refused = c.get("/_halo/api/events", params={"before": before})
            assert refused.status_code == 400 and refused.json()["error"] == "bad_request"
        assert c.get("/_halo/api/usage").status_code == 200  # the store was never blamed
