"""halo-gate: a licence-enforcing login gateway for ASGI applications."""

from .config import ConfigError, Settings
from .gateway.entry import HaloGate
from .gateway.verdict import LicensedUser
from .licensing import Decision, LicenceEngine, StoreUnavailable, Usage

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
