"""A stand-in for the planner's process (``halo_gate.admin.planning``) that a test controls:
``python fake_planner.py MODE FOLDER``.

It appends its pid to ``FOLDER/starts`` and then
- ``gated``: reads the record and plans for real once ``FOLDER/gate`` exists;
- ``hog``: asks for far more memory than its bound allows;
- ``report``: once the record starts to arrive, writes what it runs under to ``FOLDER/bounds``
  (JSON), then plans for real.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

mode, folder = sys.argv[1], Path(sys.argv[2])
with open(folder / "starts", "a", encoding="ascii") as starts:
    starts.write(f"{os.getpid()}\n")

from halo_gate.admin import planning  # noqa: E402

planned = planning.plan


def gated(stream: BinaryIO) -> dict[str, Any]:
    while not (folder / "gate").exists():
        time.sleep(0.01)
    return planned(stream)


def hog(stream: BinaryIO) -> dict[str, Any]:
    held = bytearray(64 * 2**30)
    return {"status": "ok", "held": len(held)}


def report(stream: BinaryIO) -> dict[str, Any]:
    stream.peek(1)  # type: ignore[attr-defined]  # the worker writes once it has bound us
    found = {
        "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
        "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "idle": os.sched_getscheduler(0) == os.SCHED_IDLE,
        "environment": {k: v for k, v in os.environ.items() if k.endswith("_THREADS")},
        "settings": sorted(k for k in os.environ if k.startswith("HALO_GATE_")),
    }
    (folder / "bounds").write_text(json.dumps(found))
    return planned(stream)


planning.plan = {"gated": gated, "hog": hog, "report": report}[mode]
planning.main()
