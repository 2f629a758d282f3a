"""The licence engine: named seats and a concurrent pool, decided by Redis Lua scripts."""

from .engine import Decision, LicenceEngine, LicenceType, StoreUnavailable, Usage
from .keys import Keyspace
from .store import Store, connect

__all__ = [
    "Decision",
    "Keyspace",
    "LicenceEngine",
    "LicenceType",
    "Store",
    "StoreUnavailable",
    "Usage",
    "connect",
]
