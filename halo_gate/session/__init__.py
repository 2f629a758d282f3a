"""The signed session cookie (itsdangerous), reading it from requests, and the per-worker
memory of recent heartbeats."""

from .codec import COOKIE_BUDGET, Session, SessionCodec, new_session_id
from .cookies import CACHE_BUDGET, CookieReader
from .csrf import CsrfTokens
from .memory import HeartbeatMemory, Seen

__all__ = [
    "CACHE_BUDGET",
    "COOKIE_BUDGET",
    "CookieReader",
    "CsrfTokens",
    "HeartbeatMemory",
    "Seen",
    "Session",
    "SessionCodec",
    "new_session_id",
]
