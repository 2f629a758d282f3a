"""halo-gate: a licence-enforcing login gateway for ASGI applications."""

from .config import ConfigError, Settings
from .licensing import Decision, LicenceEngine, StoreUnavailable, Usage
from .middleware import HaloGate
from .verdict import LicensedUser

__all__ = [
    "ConfigError",
    "Decision",
    "HaloGate",
    "LicenceEngine",
    "LicensedUser",
    "Settings",
    "StoreUnavailable",
    "Usage",
]
