"""Calling the library's operations on one store: each with the keys it declares and the
installation's settings, by FCALL where the store has functions and EVALSHA where it has not."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from .keys import Keyspace
from .library import Operation, library
from .results import text


class Calls:
    """The operations of one installation (``keys``) with its ``settings`` (see context.lua),
    on one store."""

    def __init__(self, store: Any, keys: Keyspace, settings: tuple[int, ...]) -> None:
        self.store = store
        self.keys = keys
        self.library = library()
        self._settings = settings
        # Whether the store has functions; None until it has said.
        self.functions: bool | None = None
        # The day (since the epoch, on the store's clock) whose history and record keys the
        # calls name: learnt from the store whenever it differs (see begin() in context.lua).
        self.day = int(time.time() // 86400)
        self._sessions = keys.sessions("")  # a person's sessions key, less the person
        self._packed: tuple[int, int, bytes] | None = None
        self._key_lists: dict[str, tuple[int, list[str], int]] = {}

    async def call(
        self, name: str, person: str | None, args: Sequence[Any], people: Sequence[str], offset: int
    ) -> tuple[Any, Sequence[Any]]:
        """Runs operation ``name`` for ``person`` (and ``people``, when it names some), with
        the clock ``offset`` (ms); returns its reply and the expired holders it names for
        culling. Errors name the file and line of the Lua they come from."""
        operation = self.library.operations[name]
        keys = self._keys(operation, person, people)
        try:
            if self.functions:
                reply = await self.store.execute_command(
                    "FCALL", operation.function, len(keys), *keys, self._settings_for(offset), *args
                )
            else:
                reply = await self._run(operation, keys, [self._settings_for(offset), *args])
        except ResponseError as error:
            if str(error).startswith("DAY "):
                # The store's day is not the one the keys were named for (midnight, a skewed
                # clock): name them for the store's and call again.
                self.day = int(str(error).split()[1])
                keys = self._keys(operation, person, people)
            elif "function not found" not in str(error).lower():
                raise self._located(error, operation) from error
            try:
                reply = await self._run(operation, keys, [self._settings_for(offset), *args])
            except ResponseError as again:
                raise self._located(again, operation) from again
        if operation.culls:
            return reply[0], reply[1]
        return reply, ()

    def _located(self, error: ResponseError, operation: Operation) -> ResponseError:
        located = self.library.where(str(error), operation, self.functions is not False)
        return error if located == str(error) else ResponseError(located)

    def _settings_for(self, offset: int) -> bytes:
        """ARGV[1] of every call, encoded once per clock offset and day."""
        packed = self._packed
        if packed is None or packed[0] != offset or packed[1] != self.day:
            fields = (offset, *self._settings, self.day)
            packed = self._packed = (offset, self.day, "|".join(map(str, fields)).encode())
        return packed[2]

    def _keys(self, operation: Operation, person: str | None, people: Sequence[str]) -> list[str]:
        """The keys ``operation`` declares, for ``person`` and ``people``, on the day known."""
        cached = self._key_lists.get(operation.name)
        if cached is None or cached[0] != self.day:
            names = operation.keys
            fixed = [self.keys.named(name, None, self.day) for name in names]
            cached = (self.day, fixed, names.index("sessions") if "sessions" in names else -1)
            self._key_lists[operation.name] = cached
        keys = cached[1].copy()
        if cached[2] >= 0:
            keys[cached[2]] = self._sessions + (person or "")
        if people:
            keys += (self._sessions + someone for someone in people)
        return keys

    async def _run(self, operation: Operation, keys: list[str], argv: list[Any]) -> Any:
        """The call by FCALL, or by EVALSHA where the store has no functions, loading the
        library or the script where the store lacks it."""
        store = self.store
        if self.functions is not False:
            try:
                reply = await store.execute_command(
                    "FCALL", operation.function, len(keys), *keys, *argv
                )
                self.functions = True
                return reply
            except ResponseError as error:
                if not await self._loaded(error):
                    raise
            if self.functions:
                return await store.execute_command(
                    "FCALL", operation.function, len(keys), *keys, *argv
                )
        try:
            return await store.evalsha(operation.sha, len(keys), *keys, *argv)
        except NoScriptError:
            await store.script_load(operation.script)
            return await store.evalsha(operation.sha, len(keys), *keys, *argv)

    async def _loaded(self, error: ResponseError) -> bool:
        """After ``error``, loads the library where it was missing (True: call again), or
        learns that the store has no functions (True: use scripts); False: another error."""
        message = str(error).lower()
        if "unknown command" in message:
            self.functions = False
            return True
        if "function not found" not in message:
            return False
        try:
            await self.store.function_load(self.library.source, replace=True)
        except ResponseError as load_error:
            if "unknown command" not in str(load_error).lower():
                raise
            self.functions = False
            return True
        self.functions = True
        return True


# The call that decides every case of an admission and of a heartbeat.
FULL = {"admit": "admit_waiting", "heartbeat": "heartbeat"}
# Refused sessions a worker remembers (see Hints).
REFUSALS_KEPT = 10_000


def to_harvest(reply: Any) -> list[str] | None:
    """The idle holders whose sessions an admission needs declared to harvest one of them
    (see harvest.lua); None when it decided."""
    if reply[0] in (b"harvest", "harvest"):
        return [text(person) for person in reply[1:]]
    return None


def decide_elsewhere(reply: Any) -> bool:
    """Whether a call left the decision to the full one (see renew.lua and admit.lua)."""
    return bool(reply[0] in (b"decide", "decide"))


class Hints:
    """Which call decides an admission or a heartbeat at once, as one worker last saw: hints
    only, since the full call (``FULL``) decides every case.

    - A heartbeat is nearly always a live session's renewal (renew.lua, five keys), but a
      waiter's page polls with a session that was refused, which only heartbeat.lua answers:
      the last refused sessions go straight to it, one round trip per poll, not two.
    - An admission nearly always meets nobody waiting (admit.lua, without the line's keys);
      after a refusal (the pool is full, the line forms), admissions go straight to
      admit_waiting.lua until one admits.
    """

    def __init__(self) -> None:
        self._refused: dict[str, None] = {}  # oldest first
        self.refusing = False

    def renewable(self, session_id: str) -> bool:
        return session_id not in self._refused

    def decided(self, session_id: str, admitted: bool) -> None:
        self.refusing = not admitted
        if admitted:
            self._refused.pop(session_id, None)
            return
        self._refused[session_id] = None
        if len(self._refused) > REFUSALS_KEPT:
            del self._refused[next(iter(self._refused))]
