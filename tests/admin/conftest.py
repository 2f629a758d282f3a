"""The gateway's fixtures (identity provider, uvicorn servers on the real Redis) for the
administrators' side."""

from tests.gateway.conftest import idp, site_factory

__all__ = ["idp", "site_factory"]
