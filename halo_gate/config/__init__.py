"""Configuration in one place: the settings (``HALO_GATE_*`` and keyword overrides), their
parsers and startup checks, and the installation's engine built from them."""

from .parsers import ConfigError
from .settings import Settings

__all__ = ["ConfigError", "Settings"]
