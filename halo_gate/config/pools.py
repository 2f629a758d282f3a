"""Parsing and checking of HALO_GATE_POOL_RESERVE and HALO_GATE_POOL_CAP, for ``halo_gate.config``.

``config`` calls these like its own parsers; each failure is one sentence naming the variables
and their values.
"""

from __future__ import annotations

from typing import Any

from ..licensing.pools import PoolRulesError, Rules, normalise
from .parsers import ConfigError

PREFIX = "HALO_GATE_"


def rules(variable: str, raw: Any) -> Rules:
    """``"group=N,..."`` (or a mapping, or pairs) as rules in the order given."""
    try:
        return normalise(raw)
    except (PoolRulesError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"{variable} has value {str(raw)!r}. {error}") from None
