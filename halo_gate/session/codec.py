"""The signed session cookie.

The cookie holds the session id, the person, the licence type, the time of the last heartbeat
and the person's groups (claims from the IdP, needed on every request without a store call) —
never a token. It is signed with itsdangerous: the first configured key signs, every key
verifies, and the signature's own timestamp is the last heartbeat, so ``max_age`` (the idle
timeout) refuses a cookie whose session has idled out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from ..licensing import LicenceType

# A cookie above this size may be dropped by browsers (4 KB limit shared with other cookies);
# groups are trimmed to stay under it.
COOKIE_BUDGET = 1000
TOKEN_BYTES = 16
VERIFIED_CACHE_SIZE = 10_000

Clock = Callable[[], float]

_LICENCE_CODES: dict[str, LicenceType] = {"n": "named", "c": "concurrent"}


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    person: str
    licence: LicenceType
    heartbeat: int  # epoch seconds of the last heartbeat, on the gateway's clock
    groups: tuple[str, ...] = ()
    name: str = ""  # what the identity provider calls the person (HALO_GATE_NAME_CLAIM)

    def renewed(self, at: float, licence: LicenceType | None) -> Session:
        return replace(self, heartbeat=int(at), licence=licence or self.licence)


def new_session_id() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class SessionCodec:
    """Turns a ``Session`` into a cookie value and back, refusing forged and idle cookies."""

    def __init__(
        self,
        keys: Sequence[str],
        *,
        max_age: int,
        clock: Clock,
        skew: int = 0,
        salt: str = "halo-session",
    ) -> None:
        clock_ = clock

        class _Signer(TimestampSigner):
            # The gateway's clock (which tests shift) both stamps and checks cookies.
            def get_timestamp(self) -> int:
                return int(clock_())

        # itsdangerous signs with the last key of the list; our first configured key signs.
        self._serializer = URLSafeTimedSerializer(list(reversed(keys)), salt=salt, signer=_Signer)
        self.max_age = max_age
        # Hosts' clocks differ: a cookie signed on a host up to ``skew`` seconds ahead of this
        # one is not "from the future" here.
        self.min_age = -skew
        self._clock = clock
        # Cookie values verified before, with their signing time: a request between heartbeats
        # then costs a dict lookup instead of an HMAC, base64 and JSON. A value is only ever
        # added after itsdangerous verified (or made) it, and the keys never change at run time.
        self._verified: dict[str, tuple[Session, int]] = {}

    def _remember(self, value: str, session: Session, signed_at: int) -> None:
        if len(value) > COOKIE_BUDGET * 2:
            return  # only groups are trimmed to the budget; a huge identity is not kept here
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[value] = (session, signed_at)

    def encode(self, session: Session) -> str:
        licence = "n" if session.licence == "named" else "c"
        groups = list(session.groups)
        while True:
            payload = [session.session_id, session.person, licence, session.heartbeat, groups]
            if session.name:
                payload.append(session.name)
            value = self._serializer.dumps(payload)
            if len(value) <= COOKIE_BUDGET or not groups:
                # The signer stamped the value with the clock's current second.
                self._remember(value, replace(session, groups=tuple(groups)), int(self._clock()))
                return value
            groups = groups[: len(groups) // 2]

    def decode(self, value: str | None) -> Session | None:
        """The session in ``value``, or None when it is missing, forged, foreign or idle."""
        if not value:
            return None
        known = self._verified.get(value)
        if known is not None:
            age = int(self._clock()) - known[1]
            return known[0] if self.min_age <= age <= self.max_age else None
        try:
            payload: Any
            # The age is checked below rather than by itsdangerous, whose max_age refuses any
            # cookie signed even a second ahead of this host's clock.
            payload, signed = self._serializer.loads(value, return_timestamp=True)
            # A sixth element, the person's name, only when the identity provider gave one.
            session_id, person, licence, heartbeat, groups, *named = payload
            session = Session(
                session_id=str(session_id),
                person=str(person),
                licence=_LICENCE_CODES[licence],
                heartbeat=int(heartbeat),
                groups=tuple(str(group) for group in groups),
                name=str(named[0]) if named else "",
            )
        except (BadSignature, ValueError, TypeError, KeyError):
            return None
        signed_at = int(signed.timestamp())
        if not self.min_age <= int(self._clock()) - signed_at <= self.max_age:
            return None
        self._remember(value, session, signed_at)
        return session
