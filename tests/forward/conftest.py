"""Forward-auth fixtures: the real identity provider of the gateway tests, and the protected
application the proxies pass requests on to."""

from collections.abc import Iterator

import pytest

from tests.forward.proxies import Upstream
from tests.gateway.conftest import idp

__all__ = ["idp", "upstream"]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    app = Upstream()
    app.server.start()
    yield app
    app.server.stop()
