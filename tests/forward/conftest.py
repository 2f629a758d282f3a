"""Forward-auth fixtures: the real identity provider of the gateway tests."""

from tests.gateway.conftest import idp

__all__ = ["idp"]
