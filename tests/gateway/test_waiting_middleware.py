"""A waiter's requests in-process: while their poll's store call is in flight, their other
requests stay refused (a waiter's cookie holds no slot), and once let in they pass."""

from __future__ import annotations

import asyncio
from typing import Any

from halo_gate.session import Session, new_session_id

from .test_middleware import JSON, Make, client, make, signed_in  # noqa: F401 (a fixture)


async def test_a_waiters_simultaneous_requests_never_get_through(
    make: Make,  # noqa: F811
) -> None:
    gate = make(concurrent_seats=1, queue_grace=8, queue_offer=8)
    holder = gate.codec.decode(await signed_in(gate, "holder@example.com"))
    assert holder is not None
    session_id = new_session_id()
    waiter = gate.codec.encode(Session(session_id, "waiter@example.com", "concurrent", 0))
    heartbeat = gate.engine.heartbeat
    calls = 0

    async def slow(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # keep the round trip open while the others arrive
        return await heartbeat(*args, **kwargs)

    gate.engine.heartbeat = slow  # type: ignore[method-assign]
    async with client(gate, waiter) as http:
        first = await http.get("/whoami", headers=JSON)
        assert (first.status_code, first.json()["position"]) == (503, 1)
        for _ in range(3):
            gate.engine.clock_offset += 3  # past the memory of the refusal (2 s, the poll)
            answers = await asyncio.gather(*(http.get("/whoami", headers=JSON) for _ in range(20)))
            assert {answer.status_code for answer in answers} == {503}
        assert calls == 4  # one store call per poll, the others answered from memory
        # The holder signs out: the waiter's next poll is let in, and so is what follows.
        await gate.engine.release(holder.person, holder.session_id)
        gate.engine.clock_offset += 3
        answers = await asyncio.gather(*(http.get("/whoami", headers=JSON) for _ in range(5)))
        assert sorted(answer.status_code for answer in answers) == [200, 503, 503, 503, 503]
        assert (await http.get("/whoami", headers=JSON)).status_code == 200
    assert (await gate.engine.usage()).queue_length == 0
