"""Helpers shared by the test suite."""

from __future__ import annotations

from halo_gate import HaloGate
from halo_gate.gateway.forward import ForwardAuth


def gate_of(app: ForwardAuth) -> HaloGate:
    """The gateway a forward-auth service hands its other requests to."""
    assert isinstance(app.app, HaloGate)
    return app.app
