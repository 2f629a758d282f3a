"""Harvesting through the gateway, in-process (embedded store): the holder whose idle slot went to
a colleague is told so at their next request, waits in line like anyone, and is readmitted
when a slot frees; another worker's announcement sends their next request to the store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from halo_gate.config import ConfigError, Settings
from tests.config.test_settings import REQUIRED

from .test_middleware import HTML, JSON, Make, client, make, signed_in  # noqa: F401 (a fixture)


async def test_the_harvested_person_is_told_waits_and_is_readmitted(
    make: Make,  # noqa: F811
) -> None:
    gate = make(concurrent_seats=2, harvest_idle=600, heartbeat_interval=60)
    idle = await signed_in(gate, "idle@example.com")
    active = gate.codec.decode(await signed_in(gate, "active@example.com"))
    assert active is not None
    gate.engine.clock_offset += 700
    assert (await gate.engine.heartbeat(active.person, active.session_id)).outcome == "renewed"
    newcomer = await gate.engine.admit("new@example.com", "new-1")
    assert newcomer.admitted and len(newcomer.harvested_sessions) == 1
    async with client(gate, idle) as http:
        answer = await http.get("/whoami", headers=JSON)
        assert answer.status_code == 503
        assert (answer.json()["reason"], answer.json()["position"]) == ("harvested", 1)
        gate.engine.clock_offset += 10  # past the memory of the refusal
        page = await http.get("/whoami", headers=HTML)
        assert page.status_code == 503
        assert "passed to a colleague who needed one after\n  10 minutes" in page.text
        await gate.engine.release("new@example.com", "new-1")
        gate.engine.clock_offset += 10
        assert (await http.get("/whoami", headers=JSON)).status_code == 200


async def test_an_announced_harvest_sends_the_next_request_to_the_store(
    make: Make,  # noqa: F811
) -> None:
    gate = make(concurrent_seats=1, harvest_idle=600, heartbeat_interval=60)
    cookie = await signed_in(gate, "idle@example.com")
    session = gate.codec.decode(cookie)
    assert session is not None
    gate.engine.clock_offset += 700
    taken = await gate.engine.admit("new@example.com", "new-1")
    assert taken.harvested_sessions == (session.session_id,)
    # A cookie renewed a moment ago lets requests through without the store, until the
    # announcement of the harvest reaches this worker.
    recent = gate.codec.encode(replace(session, heartbeat=int(gate.clock())))
    async with client(gate, recent) as http:
        assert (await http.get("/whoami", headers=JSON)).status_code == 200
        gate._ended_elsewhere("harvested", [session.session_id])
        assert (await http.get("/poll", headers=JSON)).status_code == 200  # passive: lost
        answer = await http.get("/whoami", headers=JSON)
        assert (answer.status_code, answer.json()["reason"]) == (503, "harvested")


def test_a_harvest_threshold_outside_its_bounds_is_refused() -> None:
    message = "HALO_GATE_HARVEST_IDLE has value '{}'. It must be below HALO_GATE_IDLE_TIMEOUT"
    for value in ("1800", "2000", "100"):
        with pytest.raises(ConfigError, match=message.format(value)):
            Settings.load({**REQUIRED, "HALO_GATE_HARVEST_IDLE": value})
    assert Settings.load({**REQUIRED, "HALO_GATE_HARVEST_IDLE": "600"}).harvest_idle == 600
    assert Settings.load(REQUIRED).harvest_idle == 0
