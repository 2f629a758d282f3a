"""Which requests a path belongs to, and the only URLs the gateway ever sends a browser to.

Every link, refresh and redirect a page or an answer carries is built here, through
``local_path``: a value that could lead off the site (``//host``, ``/\\host``, ``///host``, a
scheme) becomes ``/``.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from starlette.requests import HTTPConnection

# Characters kept as they are when a request's path is written back into a URL.
PATH_SAFE = "/:@!$&'()*+,;=-._~%"


class PathPrefixes:
    """Paths equal to, or under, any of the configured prefixes (``/static`` and ``/static/x``).

    A path with a ``.`` or ``..`` segment, before or after percent-decoding, or a segment with
    ``;`` (``/static/..;/api``: Tomcat and Spring read ``..;`` as ``..``), is under none of
    them: ``/static/../api`` is ``/api`` to many applications, so it must not be let through as
    ``/static``. Such segments are only looked for once a prefix has matched.
    """

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self._exact = frozenset(prefix.rstrip("/") or "/" for prefix in prefixes)
        self._under = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    def __contains__(self, path: str) -> bool:
        if path in self._exact:
            return True
        return path.startswith(self._under) and not has_unsafe_segment(path)


def has_unsafe_segment(path: str) -> bool:
    """Whether ``path`` has a ``.`` or ``..`` segment or one with ``;``, also once
    percent-decoded (``%2e``, ``%3b``)."""
    for candidate in (path, unquote(path)):
        for segment in candidate.replace("\\", "/").split("/"):
            if segment in (".", "..") or ";" in segment:
                return True
    return False


# The starts of a path that a browser or a proxy could read as naming a host (``//evil.test``).
HOST_LIKE = ("//", "/\\")


def is_host_like(path: str) -> bool:
    """A request path a browser or a proxy could read as naming a host (``//evil.test/x``)."""
    return path.startswith(HOST_LIKE)


def local_path(value: str | None) -> str:
    """``value`` if it is a path on this site, else ``/``: never a way off the site."""
    if not value or not value.startswith("/") or is_host_like(value):
        return "/"
    if any(ord(char) < 0x21 or char in "\\\x7f" for char in value):
        # Browsers drop tabs and newlines and read "\" as "/", which could turn it into "//host".
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def request_target(path: str, query_string: bytes) -> str:
    """A request's own path and query as a local URL (retry links, refreshes, ``next``).

    The path is percent-encoded before it is judged, so ``/%2F%2Fevil.test/`` (decoded by the
    server to ``//evil.test/``) is written back encoded, and a path that still reads as a host
    becomes ``/``."""
    target = quote(path, safe=PATH_SAFE)
    if query_string:
        target += "?" + query_string.decode("latin-1")
    return local_path(target)


def split_target(uri: str) -> tuple[str, str]:
    """A request target (``/path?query``) as its decoded path and raw query, read the way a
    server reads a request line: never ``urlsplit``, which takes ``//first/rest`` for a host."""
    raw_path, _, query = uri.partition("?")
    raw_path = raw_path.partition("#")[0]
    return unquote(raw_path), query


class Urls:
    """The gateway's own addresses and the URLs built from them."""

    def __init__(
        self, prefix: str, public_url: str | None, websocket_origins: tuple[str, ...] = ()
    ) -> None:
        self.prefix = prefix
        self.login = prefix + "/login"
        self.logout = prefix + "/logout"
        self.callback = prefix + "/callback"
        self.public_url = public_url
        self._websocket_origins = frozenset(websocket_origins)

    def login_for(self, target: str) -> str:
        """The sign-in URL that comes back to ``target`` (made local first)."""
        return f"{self.login}?next={quote(local_path(target), safe='')}"

    def login_url(self, conn: HTTPConnection) -> str:
        """The sign-in URL that comes back to this request."""
        return self.login_for(self.retry_url(conn))

    @staticmethod
    def retry_url(conn: HTTPConnection) -> str:
        """This request's own address, as a local URL to load again."""
        return request_target(conn.scope["path"], conn.scope.get("query_string", b""))

    def callback_url(self, conn: HTTPConnection) -> str:
        return self.base_url(conn) + self.callback

    def base_url(self, conn: HTTPConnection) -> str:
        """``HALO_GATE_PUBLIC_URL``, else the request's own base URL (no trailing ``/``)."""
        return self.public_url or str(conn.base_url).rstrip("/")

    def origin(self, conn: HTTPConnection) -> str:
        """This gateway's own origin: ``HALO_GATE_PUBLIC_URL``'s, else the request's."""
        parts = urlsplit(self.public_url or str(conn.base_url))
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}".lower()

    def same_origin(self, conn: HTTPConnection) -> bool:
        """Whether the request's ``Origin`` (or, lacking one, ``Referer``) is this gateway's."""
        origin = conn.headers.get("origin")
        if origin is None:
            referer = conn.headers.get("referer")
            if referer is None:
                return False
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        return origin.lower() == self.origin(conn)

    def websocket_origin_allowed(self, conn: HTTPConnection) -> bool:
        """A WebSocket handshake from a page of this gateway's origin, or of a listed one.

        Clients other than browsers send no ``Origin``; browsers always do, so a missing one is
        no cross-site page."""
        origin = conn.headers.get("origin")
        if origin is None:
            return True
        origin = origin.lower()
        return origin == self.origin(conn) or origin in self._websocket_origins
