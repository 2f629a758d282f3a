"""The public API is one sorted ``__all__`` that names exactly what the package exports."""

from __future__ import annotations

import halo_gate


def test_all_is_sorted_and_complete() -> None:
    assert halo_gate.__all__ == sorted(halo_gate.__all__)
    public = {
        name
        for name, value in vars(halo_gate).items()
        if not name.startswith("_") and not isinstance(value, type(halo_gate))
    }
    assert public == set(halo_gate.__all__)
    for name in halo_gate.__all__:
        assert getattr(halo_gate, name) is not None


def test_the_middleware_is_importable_from_the_top() -> None:
    from halo_gate import HaloGate, LicensedUser

    assert HaloGate.__module__ == "halo_gate.gateway.entry"
    assert LicensedUser.__module__ == "halo_gate.gateway.verdict"
