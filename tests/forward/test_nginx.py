"""Forward auth end to end behind Debian's nginx with ``examples/forward-auth/nginx.conf``.

On a refusal nginx hands the original request to the gateway (``error_page``), which answers it
with the real page: the sign-in redirect, or "all licences in use" as a 503.
"""

import pytest

from tests.forward.contract import ForwardAuthContract
from tests.forward.proxies import Nginx

pytestmark = pytest.mark.slow


class TestNginx(ForwardAuthContract):
    proxy = Nginx
