"""One run down every operation's paths, including those that name keys at run time: used to
prove where keys live (one Cluster slot, the installation's prefix, declared by every call)."""

from __future__ import annotations

from halo_gate.licensing import LicenceEngine


async def exercise_every_script(engine: LicenceEngine) -> None:
    """Runs each operation down the paths that create or touch keys."""
    await engine.configure(concurrent_seats=2, named_seats=2, named_users=["ann@x.org"])
    await engine.admit("bob@x.org", "bob-1")
    await engine.admit("bob@x.org", "bob-2")
    await engine.admit("cat@x.org", "cat-1", named_group=True)
    await engine.admit("dan@x.org", "dan-1")
    await engine.admit("eve@x.org", "eve-1")  # refused: the pool is full, Eve waits in line
    await engine.heartbeat("bob@x.org", "bob-1")
    await engine.check("bob@x.org", "bob-1")
    await engine.release("bob@x.org", "bob-2")
    await engine.release("zed@x.org", "zed-1", abandoned=True)
    await engine.end_session("dan@x.org", "dan-1", by="root@x.org")
    await engine.configure(
        concurrent_seats=3, named_seats=3, named_users=["ann@x.org", "bob@x.org"]
    )  # Bob's live sessions move to his new seat
    await engine.unassign("cat@x.org", by="root@x.org")
    await engine.assign("fay@x.org", by="root@x.org")
    await engine.resize(concurrent_seats=4, by="root@x.org")
    await engine.admit("ann@x.org", "ann-1")
    await engine.set_pools(reserve="desk=1", cap="hr=1", by="root@x.org")
    await engine.admit("hal@x.org", "hal-0", groups=["desk", "hr"])  # charged to a reservation
    await engine.admit("ida@x.org", "ida-0", groups=["hr"])  # refused: the group's cap
    await engine.usage()
    await engine.set_pools(reserve="", cap="")  # what follows runs without pool rules
    engine.clock_offset += 1801  # holders expire: a call names them, the engine culls them
    await engine.admit("gus@x.org", "gus-1")
    await engine.heartbeat("bob@x.org", "bob-1")
    await engine.usage()
    await engine.sessions()
    # Harvesting, on a second engine of the installation that has it on: Ivy, idle, yields her
    # slot to Jay (her sessions hash declared by a repeated call), then asks again.
    harvester = LicenceEngine(engine.store, instance=engine.keys.instance, harvest_idle=600)
    harvester._calls.functions = engine._calls.functions
    await engine.admit("ivy@x.org", "ivy-1")
    await engine.resize(concurrent_seats=2, by="root@x.org")
    engine.clock_offset += 700
    harvester.clock_offset = engine.clock_offset
    await engine.heartbeat("gus@x.org", "gus-1")
    await harvester.admit("jay@x.org", "jay-1")
    await harvester.heartbeat("ivy@x.org", "ivy-1")  # refused, told why; waits in line
    await engine.release("jay@x.org", "jay-1")
    await engine.release("ivy@x.org", "ivy-1")  # leaves the line
