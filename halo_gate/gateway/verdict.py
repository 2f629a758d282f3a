"""What the gateway decides for one request, and the user the application then sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.authentication import BaseUser

from ..licensing import Decision, LicenceType
from ..session import Session

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
        name: str = "",
    ) -> None:
        self._identity = identity
        self._name = name
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
        """The name the identity provider gave (HALO_GATE_NAME_CLAIM), else the identity."""
        return self._name or self._identity

    @property
    def identity(self) -> str:
        """The person, lower-cased: the value of ``HALO_GATE_USER_CLAIM``."""
        return self._identity

    def __repr__(self) -> str:
        return f"LicensedUser({self.identity!r}, licence={self.licence!r})"


# "anonymous": handed to the application untouched; "unidentified" and "bad_identity": the
# request names nobody, or a person who cannot be believed (see ``halo_gate.identity``);
# "bad_path": a path that reads as a host (``//evil.test/``), refused in every mode.
Verdict = Literal[
    "pass",
    "login",
    "pool_full",
    "no_licence",
    "store_down",
    "anonymous",
    "unidentified",
    "bad_identity",
    "bad_path",
]


@dataclass(frozen=True, slots=True)
class Gate:
    """What the gateway decided for one request to the application."""

    verdict: Verdict
    session: Session | None = None
    cookie: str | None = None  # a new cookie value; "" clears the cookie
    decision: Decision | None = None
    verified: bool = True

    @property
    def reason(self) -> str:
        """Why the request was refused, as the JSON ``error`` and ``X-Halo-Reason`` say it."""
        if self.decision is not None and self.verdict in ("pool_full", "no_licence"):
            return "no_licence" if self.verdict == "no_licence" else self.decision.outcome
        return _REASONS.get(self.verdict, self.verdict)


_REASONS = {
    "login": "login_required",
    "unidentified": "login_required",
    "anonymous": "login_required",
    "store_down": "store_unavailable",
}
