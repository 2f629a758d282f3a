"""A session id given up by the gateway (its admission timed out, then it was released as
abandoned) is never admitted afterwards, whichever of the two reaches the store first."""

from __future__ import annotations

from halo_gate.licensing import LicenceEngine


async def test_an_admission_arriving_after_its_release_takes_no_slot(
    engine: LicenceEngine,
) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    assert await engine.release("bob@x.org", "bob-1", abandoned=True) is False  # not yet in
    late = await engine.admit("bob@x.org", "bob-1")
    assert (late.outcome, late.admitted, late.in_use) == ("ended", False, 0)
    usage = await engine.usage()
    assert usage.in_use == 0
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "admitted"


async def test_an_ordinary_release_does_not_keep_the_id_from_being_admitted_again(
    engine: LicenceEngine,
) -> None:
    # Identity sources other than OIDC admit a person under the same id after a sign-out.
    await engine.configure(concurrent_seats=1, named_seats=0)
    assert (await engine.admit("bob@x.org", "bob-id")).outcome == "admitted"
    assert await engine.release("bob@x.org", "bob-id") is True
    assert (await engine.admit("bob@x.org", "bob-id")).outcome == "admitted"


async def test_an_admission_released_afterwards_frees_its_slot(engine: LicenceEngine) -> None:
    await engine.configure(concurrent_seats=1, named_seats=0)
    assert (await engine.admit("bob@x.org", "bob-1")).outcome == "admitted"
    assert await engine.release("bob@x.org", "bob-1", abandoned=True) is True
    assert (await engine.admit("cat@x.org", "cat-1")).outcome == "admitted"
    assert (await engine.heartbeat("bob@x.org", "bob-1")).outcome == "ended"
