"""Licence planning from recorded usage: the cost model, the exact named/concurrent split, the
denial replay, the backtest (will the plan hold?), growth, what an idle policy costs, and the
usage simulator. Pure Python: no Redis, no HTTP.

The optimiser needs SciPy, which takes a moment to import, so the names that reach it are
loaded on first use and every other ``halo-gate`` command starts without it. NumPy and SciPy
are the ``planner`` extra: the names that need them load on first use, so the cost model and
the profiles import without them (the console imports the cost model).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .cost import CostComparison
from .profiles import GUIDE, Group, Profile, ProfileError, load_profile
from .simulate import simulate

if TYPE_CHECKING:
    from .backtest import Validation
    from .optimise import Split, optimal_split
    from .plan import Current, NamedPerson, Plan, plan_records, plan_usage
    from .policy import PolicySaving, harvest_saving
    from .usage import UsageError, UsageLog, read_usage, read_usage_file, usage_from_records

_LAZY = {
    "Current": ".plan",
    "NamedPerson": ".plan",
    "Plan": ".plan",
    "PolicySaving": ".policy",
    "Split": ".optimise",
    "Validation": ".backtest",
    "harvest_saving": ".policy",
    "optimal_split": ".optimise",
    "plan_records": ".plan",
    "plan_usage": ".plan",
    "UsageError": ".usage",
    "UsageLog": ".usage",
    "read_usage": ".usage",
    "read_usage_file": ".usage",
    "usage_from_records": ".usage",
}

__all__ = [
    "GUIDE",
    "CostComparison",
    "Current",
    "Group",
    "NamedPerson",
    "Plan",
    "PolicySaving",
    "Profile",
    "ProfileError",
    "Split",
    "UsageError",
    "UsageLog",
    "Validation",
    "harvest_saving",
    "load_profile",
    "optimal_split",
    "plan_records",
    "plan_usage",
    "read_usage",
    "read_usage_file",
    "simulate",
    "usage_from_records",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
