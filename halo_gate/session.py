"""The signed session cookie, and the per-worker memory of recent heartbeats.

The cookie holds the session id, the person, the licence type, the time of the last heartbeat
and the person's groups (claims from the IdP, needed on every request without a store call) —
never a token. It is signed with itsdangerous: the first configured key signs, every key
verifies, and the signature's own timestamp is the last heartbeat, so ``max_age`` (the idle
timeout) refuses a cookie whose session has idled out.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from .licensing import Decision, LicenceType

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
            session_id, person, licence, heartbeat, groups = payload
            session = Session(
                session_id=str(session_id),
                person=str(person),
                licence=_LICENCE_CODES[licence],
                heartbeat=int(heartbeat),
                groups=tuple(str(group) for group in groups),
            )
        except (BadSignature, ValueError, TypeError, KeyError):
            return None
        signed_at = int(signed.timestamp())
        if not self.min_age <= int(self._clock()) - signed_at <= self.max_age:
            return None
        self._remember(value, session, signed_at)
        return session


@dataclass(frozen=True, slots=True)
class Seen:
    """What this worker last learnt about a session: its last heartbeat, whether it was
    refused, and when a passive request last checked that it was not ended."""

    at: float
    refusal: Decision | None = None
    checked: float = 0.0


class HeartbeatMemory:
    """Per-worker: the last heartbeat (or refusal) of each session seen here.

    A client that never stores the refreshed cookie keeps sending an old heartbeat time; this
    memory keeps such a client to one store round trip per interval per worker, and a refused
    or ended session from being let through on its old cookie. It is bounded (least recently
    used entries go first); forgetting an entry costs at most one extra heartbeat.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, Seen] = OrderedDict()
        self._capacity = capacity

    def get(self, session_id: str) -> Seen | None:
        return self._seen.get(session_id)

    def ended(self, session_id: str) -> bool:
        """Whether this worker saw the session end (signed out, ended by an administrator)."""
        seen = self._seen.get(session_id)
        return seen is not None and seen.refusal is not None and seen.refusal.outcome == "ended"

    def put(self, session_id: str, seen: Seen | None) -> None:
        if seen is None:
            self._seen.pop(session_id, None)
            return
        self._seen[session_id] = seen
        self._seen.move_to_end(session_id)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
