"""Parsing and checking of HALO_GATE_POOL_RESERVE and HALO_GATE_POOL_CAP, for ``halo_gate.config``.

``config`` calls these like its own parsers; each failure is one sentence naming the variables
and their values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config_parsers import ConfigError
from .licensing.pools import PoolRulesError, Rules, as_text, normalise

if TYPE_CHECKING:
    from .config import Settings

PREFIX = "HALO_GATE_"


def rules(variable: str, raw: Any) -> Rules:
    """``"group=N,..."`` (or a mapping, or pairs) as rules in the order given."""
    try:
        return normalise(raw)
    except (PoolRulesError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"{variable} has value {str(raw)!r}. {error}") from None


def check(settings: Settings) -> None:
    """Reservations that fit the pool, none above its group's cap."""
    reserve, caps = as_text(settings.pool_reserve), as_text(settings.pool_cap)
    total = sum(slots for _, slots in settings.pool_reserve)
    if total > settings.concurrent_seats:
        raise ConfigError(
            f"{PREFIX}POOL_RESERVE has value '{reserve}'. Its reservations add up to {total} "
            f"slots, more than {PREFIX}CONCURRENT_SEATS ('{settings.concurrent_seats}')."
        )
    cap = dict(settings.pool_cap)
    for group, slots in settings.pool_reserve:
        if group in cap and slots > cap[group]:
            raise ConfigError(
                f"{PREFIX}POOL_RESERVE has value '{reserve}'. It keeps {slots} slots for "
                f"'{group}', above that group's cap in {PREFIX}POOL_CAP ('{caps}')."
            )
