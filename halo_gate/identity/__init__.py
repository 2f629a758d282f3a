"""Who the person is, when the login is not halo-gate's own: ``HALO_GATE_IDENTITY``.

``oidc`` (the default) is halo-gate's own login: the person is named once, at the callback, and
the signed cookie carries them from then on, so nothing here runs per request. Every other
source names the person on each request, and the gateway asks it through one small interface:

- ``header``: a trusted proxy's headers (``identity/header.py``);
- ``jwt``: an identity-aware proxy's signed assertion (``identity/jwt.py``);
- ``app``: the application's own login, ``scope["user"]`` or a callable (``identity/app.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from starlette.types import ASGIApp, Scope

if TYPE_CHECKING:
    from ..config import Settings


@dataclass(frozen=True, slots=True)
class Person:
    """Who a request names: the person (lower-cased, as everywhere) and their groups."""

    person: str
    groups: tuple[str, ...] = ()


class Refused(Exception):
    """The request names a person in a way that must not be believed. The message is for the
    log only: the client is told no more than that its identity was refused."""


class SourceUnavailable(Exception):
    """The source cannot check identities just now (its keys cannot be fetched)."""


# What a source's verdict is for a request that names nobody: "unidentified" is refused (401),
# "anonymous" goes to the application untouched (its own login page deals with it).
Unnamed = Literal["unidentified", "anonymous"]

Resolver = Callable[[Scope], "str | Person | None | Awaitable[str | Person | None]"]


class Source(Protocol):
    """One identity source. ``identify`` is called for every request outside the gateway's
    own routes (and on them, so identity headers are checked and removed there too)."""

    unnamed: Unnamed

    async def identify(self, scope: Scope) -> Person | None:
        """The person the request names, or None; raises ``Refused`` for a forged identity.
        May rewrite ``scope["headers"]`` to remove what the application must not see."""
        ...

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The application as the gateway calls it (a source may restore its own scope keys)."""
        ...


def person_of(value: str) -> str:
    return value.strip().lower()


def build(
    settings: Settings, clock: Callable[[], float], resolver: Resolver | None = None
) -> Source | None:
    """The configured source, or None for OIDC (the cookie alone names the person)."""
    if settings.identity == "header":
        from .header import HeaderSource

        return HeaderSource(settings)
    if settings.identity == "jwt":
        from .jwt import JWTSource

        return JWTSource(settings, clock)
    if settings.identity == "app":
        from .app import AppSource

        return AppSource(settings, resolver)
    return None
