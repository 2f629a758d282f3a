"""What the gateway decides for one request, and the user the application then sees."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from starlette.authentication import BaseUser

from .licensing import Decision, LicenceType, StoreUnavailable
from .session import Session

# The engine turns Redis errors into StoreUnavailable; a socket error or timeout that slips past
# it is the same event for a request.
STORE_ERRORS = (StoreUnavailable, OSError, asyncio.TimeoutError)

# What a worker remembers of a session it saw end (signed out, ended by an administrator).
ENDED = Decision("ended", None, 0, 0, 0, 0)
# A session whose slot was harvested (announced by another worker): the store decides next.
HARVESTED = Decision("pool_full", None, 0, 0, 0, 0, reason="harvested")


class LicensedUser(BaseUser):
    """``scope["user"]`` for a person the gateway let in."""

    def __init__(
        self,
        identity: str,
        licence: LicenceType,
        groups: tuple[str, ...],
        session_id: str,
        *,
        verified: bool = True,
    ) -> None:
        self._identity = identity
        self.licence = licence
        self.groups = groups
        self.session_id = session_id
        # False when the store was down and HALO_GATE_ON_STORE_ERROR=allow let the request in.
        self.verified = verified

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self._identity

    @property
    def identity(self) -> str:
        """The person, lower-cased: the value of ``HALO_GATE_USER_CLAIM``."""
        return self._identity

    def __repr__(self) -> str:
        return f"LicensedUser({self.identity!r}, licence={self.licence!r})"


# "anonymous": handed to the application untouched; "unidentified" and "bad_identity": the
# request names nobody, or a person who cannot be believed (see ``halo_gate.identity``).
Verdict = Literal[
    "pass",
    "login",
    "pool_full",
    "no_licence",
    "store_down",
    "anonymous",
    "unidentified",
    "bad_identity",
]


@dataclass(frozen=True, slots=True)
class Gate:
    """What the gateway decided for one request to the application."""

    verdict: Verdict
    session: Session | None = None
    cookie: str | None = None  # a new cookie value; "" clears the cookie
    decision: Decision | None = None
    verified: bool = True
