"""One request to the application, identified then decided: the ``Gate`` that the middleware
answers as a pass or a page, and forward auth as 200, 401 or 403. Both modes judge a request
here, so a path is public, passive or refused the same way in each."""

from __future__ import annotations

from starlette.types import Scope

from ..identity import Person
from ..session import Session
from .core import Core
from .decide import Decider, client_of
from .identify import Identifier
from .paths import PathPrefixes, is_host_like
from .verdict import Gate


class Pipeline:
    def __init__(self, core: Core, identify: Identifier, decider: Decider) -> None:
        settings = core.settings
        self._codec = core.codec
        self._read_cookie = core.cookies.read
        self._identify = identify
        self._decider = decider
        self.public = PathPrefixes(settings.public_paths)
        self.passive = PathPrefixes(settings.passive_paths)

    def session(self, scope: Scope) -> Session | None:
        """The session the request's cookie holds, if its signature and age are good."""
        return self._codec.decode(self._read_cookie(scope))

    async def __call__(self, scope: Scope, session: Session | None) -> Gate:
        """The decision for a request outside the gateway's own routes."""
        path: str = scope["path"]
        if is_host_like(path):
            return Gate("bad_path")
        public = path in self.public
        who = await self._identify(scope, session)
        if isinstance(who, Gate):
            return who
        if isinstance(who, Person):
            if public:
                who = None  # no licence is needed here, so none is taken
            else:
                return await self._admit(who, scope)
        if public:
            return await self._public(who)
        if who is None:
            return Gate("login" if self._identify.source is None else self._identify.unnamed)
        gate = await self._decider.decide(who, passive=path in self.passive)
        if gate.verdict == "login" and self._identify.source is not None:
            # The session ended, but the source still names the person: admitted afresh.
            return await self._admit(Person(who.person, who.groups), scope)
        return gate

    async def _admit(self, named: Person, scope: Scope) -> Gate:
        session_id = self._identify.session_id(named.person)
        gate = await self._decider.admit_named(named, session_id, client_of(scope))
        if gate.verdict == "pass" and gate.session is not None and gate.verified:
            self._identify.remember(gate.session)
        return gate

    async def _public(self, session: Session | None) -> Gate:
        # No licence is needed here, but an ended session is not handed on as signed in.
        if session is None:
            return Gate("pass")
        gate = await self._decider.decide(session, passive=True)
        if gate.verdict == "pass":
            return gate
        return Gate("pass", cookie=gate.cookie)
