"""The licence engine: named seats and a concurrent pool, decided by Redis Lua scripts."""

from .engine import LicenceEngine, StoreUnavailable
from .keys import Keyspace
from .pools import GroupUsage, PoolRules, PoolRulesError
from .results import Decision, LicenceType, Usage
from .store import Store, connect

__all__ = [
    "Decision",
    "GroupUsage",
    "Keyspace",
    "LicenceEngine",
    "LicenceType",
    "PoolRules",
    "PoolRulesError",
    "Store",
    "StoreUnavailable",
    "Usage",
    "connect",
]
