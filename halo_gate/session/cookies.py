"""Finding the session cookie in a request's ``Cookie`` header, cheaply and in bounded memory."""

from __future__ import annotations

from http.cookies import _unquote

from starlette.types import Scope

# A browser sends the same Cookie header again and again, so its reading is kept per worker, but
# only for headers up to this size and up to this many bytes in all: an anonymous client sending
# huge or ever-different headers costs a parse, never memory that stays.
CACHED_HEADER_MAX = 4096
CACHE_BUDGET = 4 * 1024 * 1024


def first_cookie(header: str, name: str) -> str | None:
    """The value of the first cookie called ``name`` in ``header``, read as starlette reads one.

    Browsers list the cookie with the most specific path first, then the oldest; a second cookie
    of the same name (set for another path, or planted for a parent domain) is never the one
    used. Use a ``__Host-`` name to keep others from setting one at all.
    """
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if sep and key.strip() == name:
            text: str = _unquote(value.strip())
            return text
    return None


class CookieReader:
    """Reads the gateway's cookie from ASGI scopes, keeping recent readings within a byte budget."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._readings: dict[bytes, str | None] = {}
        self._bytes = 0

    def read(self, scope: Scope) -> str | None:
        for key, header in scope["headers"]:
            if key == b"cookie":
                try:
                    return self._readings[header]
                except KeyError:
                    pass
                value = first_cookie(header.decode("latin-1"), self.name)
                if len(header) <= CACHED_HEADER_MAX:
                    if self._bytes + len(header) > CACHE_BUDGET:
                        self._readings.clear()
                        self._bytes = 0
                    self._readings[header] = value
                    self._bytes += len(header) + len(value or "")
                return value
        return None

    @property
    def cached_bytes(self) -> int:
        """Bytes of headers and values held (what the budget bounds)."""
        return self._bytes
