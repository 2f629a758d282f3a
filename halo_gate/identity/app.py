"""``HALO_GATE_IDENTITY=app``: the application's own login names the person.

The person is ``scope["user"]`` as set by an outer middleware (Starlette's
``AuthenticationMiddleware`` or any other that follows its convention), or what the callable
given as ``HaloGate(app, identity=...)`` returns for a scope. A request that names nobody goes
to the application untouched, so its own login page can sign the person in; once signed in,
they must hold a licence like anyone else. The application keeps its own ``scope["user"]`` and
``scope["auth"]`` (with the licence scopes added); the licensed person is
``scope["halo_gate.user"]``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings
from . import Person, Refused, Resolver, Unnamed, person_of

APP_USER = "halo_gate.app_user"
APP_AUTH = "halo_gate.app_auth"


def _from_user(user: Any) -> Person | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        name = user.identity
    except (AttributeError, NotImplementedError):
        name = getattr(user, "display_name", None)
    if not isinstance(name, str) or not name.strip():
        raise Refused(f"the application's user {type(user).__name__} names nobody")
    groups = getattr(user, "groups", ())
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, Sequence):
        groups = ()
    return Person(person_of(name), tuple(str(group) for group in groups))


class AppSource:
    unnamed: Unnamed = "anonymous"

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        self._resolver = resolver

    async def identify(self, scope: Scope) -> Person | None:
        if "user" in scope:
            scope[APP_USER] = scope["user"]
        if "auth" in scope:
            scope[APP_AUTH] = scope["auth"]
        if self._resolver is None:
            return _from_user(scope.get("user"))
        found: Any = self._resolver(scope)
        if inspect.isawaitable(found):
            found = await found
        if found is None or isinstance(found, Person):
            return found
        if isinstance(found, str):
            return Person(person_of(found)) if found.strip() else None
        return _from_user(found)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def with_own_user(scope: Scope, receive: Receive, send: Send) -> None:
            if APP_USER in scope:
                licensed, credentials = scope.get("user"), scope.get("auth")
                scope["halo_gate.user"] = licensed
                scope["user"] = scope.pop(APP_USER)
                own = scope.pop(APP_AUTH, None)
                if own is not None and credentials is not None:
                    scopes = [s for s in credentials.scopes if s not in own.scopes]
                    scope["auth"] = AuthCredentials([*own.scopes, *scopes])
            elif "user" not in scope and scope["type"] != "lifespan":
                # Nobody named and no outer login middleware: Starlette's convention still holds.
                scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            await app(scope, receive, send)

        return with_own_user
