"""HALO_GATE_POOL_RESERVE and HALO_GATE_POOL_CAP: parsed in order, refused in one sentence."""

from __future__ import annotations

import pytest

from halo_gate.config import ConfigError, Settings
from tests.config.test_settings import REQUIRED


def test_pool_rules_are_read_in_the_order_given() -> None:
    settings = Settings.load(
        {
            **REQUIRED,
            "HALO_GATE_CONCURRENT_SEATS": "100",
            "HALO_GATE_POOL_RESERVE": " service-desk=10, vip=2 ,",
            "HALO_GATE_POOL_CAP": "hr=30,finance=20,Facilities Team=5",
        }
    )
    assert settings.pool_reserve == (("service-desk", 10), ("vip", 2))
    assert settings.pool_cap == (("hr", 30), ("finance", 20), ("Facilities Team", 5))
    assert Settings.load(REQUIRED).pool_reserve == ()
    assert Settings.load(REQUIRED, pool_cap={"hr": 3}).pool_cap == (("hr", 3),)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"HALO_GATE_POOL_RESERVE": "service-desk=8,vip=4"},
            "HALO_GATE_POOL_RESERVE has value 'service-desk=8,vip=4'. Its reservations add up "
            "to 12 slots, more than HALO_GATE_CONCURRENT_SEATS ('10').",
        ),
        (
            {"HALO_GATE_POOL_RESERVE": "hr=6", "HALO_GATE_POOL_CAP": "hr=5,finance=2"},
            "HALO_GATE_POOL_RESERVE has value 'hr=6'. It keeps 6 slots for 'hr', above that "
            "group's cap in HALO_GATE_POOL_CAP ('hr=5,finance=2').",
        ),
        (
            {"HALO_GATE_POOL_CAP": "hr=thirty"},
            "HALO_GATE_POOL_CAP has value 'hr=thirty'. The entry 'hr=thirty' is not group=N "
            "with N a whole number.",
        ),
        (
            {"HALO_GATE_POOL_CAP": "hr"},
            "HALO_GATE_POOL_CAP has value 'hr'. The entry 'hr' is not group=N with N a whole "
            "number.",
        ),
        (
            {"HALO_GATE_POOL_RESERVE": "=3"},
            "HALO_GATE_POOL_RESERVE has value '=3'. The entry '=3' is not group=N with N a whole "
            "number.",
        ),
        (
            {"HALO_GATE_POOL_RESERVE": "hr=-1"},
            "HALO_GATE_POOL_RESERVE has value 'hr=-1'. The entry 'hr=-1' is not group=N with N "
            "a whole number.",
        ),
        (
            {"HALO_GATE_POOL_CAP": "hr=1,hr=2"},
            "HALO_GATE_POOL_CAP has value 'hr=1,hr=2'. The group 'hr' is named twice.",
        ),
    ],
)
def test_bad_pool_rules_stop_startup_with_one_sentence(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.load({**REQUIRED, **environ})
    assert str(error.value) == message
