"""Which requests a path belongs to, and the only paths the gateway ever sends a browser to."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit


class PathPrefixes:
    """Paths equal to, or under, any of the configured prefixes (``/static`` and ``/static/x``).

    A path with a ``.`` or ``..`` segment, before or after percent-decoding, is under none of
    them: ``/static/../api`` is ``/api`` to many applications, so it must not be let through as
    ``/static``. Such segments are only looked for once a prefix has matched.
    """

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self._exact = frozenset(prefix.rstrip("/") or "/" for prefix in prefixes)
        self._under = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    def __contains__(self, path: str) -> bool:
        if path in self._exact:
            return True
        return path.startswith(self._under) and not has_dot_segment(path)


def has_dot_segment(path: str) -> bool:
    """Whether ``path`` has a ``.`` or ``..`` segment, also once percent-decoded (``%2e``)."""
    for candidate in (path, unquote(path)):
        for segment in candidate.replace("\\", "/").split("/"):
            if segment in (".", ".."):
                return True
    return False


def local_path(value: str | None) -> str:
    """``value`` if it is a path on this site, else ``/``: never a way off the site."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 0x21 or char in "\\\x7f" for char in value):
        # Browsers drop tabs and newlines and read "\" as "/", which could turn it into "//host".
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def request_target(path: str, query_string: bytes) -> str:
    """The request's own path and query as a relative URL: retry links never name a host."""
    target = quote(path, safe="/:@!$&'()*+,;=-._~%")
    if query_string:
        target += "?" + query_string.decode("latin-1")
    return local_path(target)
