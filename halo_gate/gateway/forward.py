"""Forward auth: the gateway on its own, for nginx ``auth_request``, Traefik ``ForwardAuth`` and
Caddy ``forward_auth`` in front of an application in any language (``halo-gate serve``).

``GET /_halo/auth`` is asked about every request to the protected application. The original
request is taken only from the headers the configured proxy (``HALO_GATE_AUTH_PROXY``) sets and
overwrites: ``X-Original-URI`` / ``X-Original-Method`` for nginx (the shipped configuration sets
them), ``X-Forwarded-Uri`` / ``X-Forwarded-Method`` for Traefik and Caddy. The other family is
ignored, since it arrives as the client sent it. The original request then goes through the same
``Pipeline`` as in the middleware, and its ``Gate`` is answered the way proxies understand (nginx
passes on only 2xx, 401 and 403): 200 with ``X-Halo-User``, ``X-Halo-Licence``, ``X-Halo-Groups``
(and ``Set-Cookie`` when a heartbeat renewed the cookie); 401 when nobody is signed in; 403 with
``X-Halo-Reason`` and ``Retry-After`` otherwise, its body the page a browser needs.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import pages
from ..config import Settings
from .answer import Answerer
from .paths import Urls, split_target
from .pipeline import Pipeline

# The headers each proxy sets (overwriting the client's) to say what the original request was:
# its target, its method, and the host and scheme it was sent to. nginx passes the Host on as it
# is (the shipped configuration sets it); Caddy and Traefik put the original in X-Forwarded-*.
ORIGINAL_HEADERS: dict[str, tuple[bytes, bytes, bytes | None, bytes | None]] = {
    "nginx": (b"x-original-uri", b"x-original-method", None, None),
    "caddy": (b"x-forwarded-uri", b"x-forwarded-method", b"x-forwarded-host", b"x-forwarded-proto"),
    "traefik": (
        b"x-forwarded-uri",
        b"x-forwarded-method",
        b"x-forwarded-host",
        b"x-forwarded-proto",
    ),
}
# Never handed on as the client sent them: the original request's headers of every proxy, and
# the identity the gateway answers with.
DROPPED = frozenset(
    {
        b"x-original-uri",
        b"x-original-method",
        b"x-forwarded-uri",
        b"x-forwarded-method",
        b"x-halo-user",
        b"x-halo-licence",
        b"x-halo-groups",
    }
)


def header_value(value: str) -> str:
    # Identities may hold non-ASCII characters; header values are Latin-1, so escape those.
    return value if value.isascii() else quote(value, safe="@.,-_+ !~*'()")


class ForwardAuth:
    """``GET /_halo/auth`` answered from ``pipeline``; every other request goes to ``app`` (the
    gateway in front of ``licensed``), which serves the own routes and the refusal pages."""

    def __init__(
        self,
        settings: Settings,
        pipeline: Pipeline,
        answer: Answerer,
        urls: Urls,
        app: ASGIApp,
    ) -> None:
        self.auth_path = settings.path_prefix + "/auth"
        self._uri, self._method, self._host, self._proto = ORIGINAL_HEADERS[settings.auth_proxy]
        prefix = settings.path_prefix.rstrip("/")
        self._own = (prefix, prefix + "/")
        self._trusted = [ipaddress.ip_network(item) for item in settings.trusted_proxies]
        self._pipeline = pipeline
        self._answer = answer
        self._urls = urls
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.auth_path:
            response = await self._auth(scope)
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _auth(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return Response(status_code=405, headers={"Allow": "GET", **pages.NO_STORE})
        if not self._from_proxy(scope):
            return _refused("untrusted_peer")
        found = self._original(scope)
        if found is None:
            return _refused("no_original_request")
        original, upgrade = found
        path: str = original["path"]
        if path == self._own[0] or path.startswith(self._own[1]):
            # The proxy sends the gateway's own paths to the gateway; replaying one (or anything
            # under the prefix, as the middleware refuses it) would judge the wrong request.
            return _refused("own_route")
        if upgrade and not self._urls.websocket_origin_allowed(HTTPConnection(original)):
            # A page on another origin may open a WebSocket with the person's cookies.
            return _refused("cross_origin")
        session = self._pipeline.session(original)
        gate = await self._pipeline(original, session)
        if gate.verdict != "pass":
            return self._answer.forward(HTTPConnection(original), gate)
        response = Response(status_code=200, headers=pages.NO_STORE)
        session = gate.session
        if session is not None:  # else a public path, asked by nobody signed in
            response.headers["X-Halo-User"] = header_value(session.person)
            response.headers["X-Halo-Licence"] = session.licence
            response.headers["X-Halo-Groups"] = header_value(",".join(session.groups))
        if gate.cookie is not None:
            self._answer.set_cookie(response, gate.cookie)
        return response

    def _from_proxy(self, scope: Scope) -> bool:
        """With ``HALO_GATE_TRUSTED_PROXIES`` set, only its peers may ask (the direct peer's
        address, never ``X-Forwarded-For``)."""
        if not self._trusted:
            return True
        client = scope.get("client")
        try:
            address = ipaddress.ip_address(client[0]) if client else None
        except ValueError:
            return False
        return address is not None and any(address in network for network in self._trusted)

    def _original(self, scope: Scope) -> tuple[Scope, bool] | None:
        """The original request as the proxy describes it, and whether it asks for a
        WebSocket; None when the proxy did not describe it."""
        uri = method = host = None
        scheme = scope.get("scheme", "http")
        kept = []
        upgrade = False
        for key, value in scope["headers"]:
            if key == self._uri:
                uri = value.decode("latin-1")
            elif key == self._method:
                method = value.decode("latin-1")
            elif key == self._host:
                host = value
            elif key == self._proto and value in (b"http", b"https"):
                scheme = value.decode()
            elif key not in DROPPED:
                kept.append((key, value))
                # Upgrade is hop-by-hop (nginx does not pass it on); the handshake's key is not.
                upgrade = upgrade or key == b"sec-websocket-key"
        if uri is None or not uri.startswith("/"):
            return None
        if host is not None:
            kept = [(key, value) for key, value in kept if key != b"host"] + [(b"host", host)]
        path, query = split_target(uri)
        original = {
            **scope,
            "scheme": scheme,
            "method": (method or "GET").upper()[:16],
            "path": path,
            "raw_path": uri.partition("?")[0].encode("latin-1", "replace"),
            "query_string": query.encode("latin-1", "replace"),
            "headers": kept,
        }
        return original, upgrade


def _refused(reason: str) -> Response:
    """A 403 for a request forward auth cannot judge: the proxy, not a person, is at fault."""
    headers = {"X-Halo-Reason": reason, **pages.NO_STORE}
    return Response("Refused: " + reason.replace("_", " ") + ".", 403, headers)
