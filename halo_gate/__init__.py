"""halo-gate: a licence-enforcing login gateway for ASGI applications."""

from .licensing import Decision, LicenceEngine, StoreUnavailable, Usage

__all__ = ["Decision", "LicenceEngine", "StoreUnavailable", "Usage"]
