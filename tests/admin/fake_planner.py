"""A stand-in for the planner's process (``halo_gate.admin.planning``) that a test controls:
``python fake_planner.py MODE FOLDER --memory BYTES --cpu SECONDS``.

It appends its pid to ``FOLDER/starts``, bounds itself like the real one, and then
- ``gated``: reads the record and plans for real once ``FOLDER/gate`` exists;
- ``hog``: asks for far more memory than its bound allows.
"""

from __future__ import annotations

import os
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


planning.plan = {"gated": gated, "hog": hog}[mode]
planning.main(sys.argv[3:])
