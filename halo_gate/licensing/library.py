"""The engine's Lua: one Redis Functions library, or scripts of the same text where a server
has no functions.

``scripts/`` holds two kinds of files. The shared ones (``SHARED``, in this order) define the
functions the operations use; each operation (``OPERATIONS``) is one file whose body is one
call, with a header saying its keys, arguments and reply::

    -- KEYS: sessions config pool ...   (the names the call reaches its keys by, in order)
    -- ARGV: ...
    -- Returns ...

The library is the shared files followed by every operation's body, each registered as a
function. It is loaded once per server (``FUNCTION LOAD``: on every primary of a Cluster, and
replicated to Sentinel's replicas), then each call is one ``FCALL``; a server that lost it
(restarted empty, a new primary) gets it again at the next call. Its name carries a hash of
its text, so engines of different versions share a server without meeting. A server without
functions (Redis before 7, a fakeredis without them) gets each operation as a script of the
shared files and that one body (``EVALSHA``): the same code, run from the top at every call.

Lua reports an error at a line of the library or the script; :meth:`Library.where` names the
file and line it comes from.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

SHARED = ("context", "trail", "charges", "line", "holders", "harvest", "admission", "calls")
OPERATIONS = (
    "admit",
    "admit_waiting",
    "heartbeat",
    "renew",
    "check",
    "release",
    "end_session",
    "assign",
    "unassign",
    "resize",
    "configure",
    "pools",
    "usage",
    "cull",
)
# The name of the keys of the people an operation names in ARGV, last in its KEYS when it has
# them: one key per person, as many as the call passes.
PEOPLE = "people..."
_ERROR_AT = re.compile(r"user_(?:function|script):(\d+)")


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    keys: tuple[str, ...]  # the names of its keys, in the order the call passes them
    people: bool  # whether the keys of the people it names follow
    culls: bool  # whether its reply comes with expired holders to cull (see calls.lua)
    function: str  # its name in the library
    script: str  # the script that runs it where the server has no functions
    sha: str


def _read(name: str) -> str:
    return (resources.files(__package__) / "scripts" / f"{name}.lua").read_text()


def declared_keys(name: str, text: str) -> tuple[tuple[str, ...], bool]:
    """The key names of an operation's header, and whether the people's keys follow."""
    words: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("-- KEYS:"):
            words += line.removeprefix("-- KEYS:").split()
            for more in lines:
                if not more.startswith("--       "):
                    break
                words += more.removeprefix("--").split()
            break
    people = bool(words) and words[-1] == PEOPLE
    names = tuple(words[:-1] if people else words)
    if not names or not all(word.isidentifier() for word in names):
        raise ValueError(f"scripts/{name}.lua has no header line '-- KEYS: name ...'.")
    return names, people


def _lua_names(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"'{name}'" for name in names) + "}"


class _Text:
    """Lua text put together from files, remembering where each line came from."""

    def __init__(self, *lines: str) -> None:
        self.lines: list[str] = list(lines)
        self.origins: list[tuple[str, int]] = [("", 0)] * len(lines)

    def add(self, text: str, origin: str = "") -> None:
        for number, line in enumerate(text.splitlines(), start=1):
            self.lines.append(line)
            self.origins.append((origin, number if origin else 0))

    def extend(self, other: _Text) -> None:
        self.lines += other.lines
        self.origins += other.origins

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


class Library:
    """The engine's operations: the library's text and, for each, its script and its keys."""

    def __init__(self) -> None:
        shared = _Text()
        for name in SHARED:
            shared.add(_read(name), f"{name}.lua")
        bodies = {name: _read(name) for name in OPERATIONS}
        declared = {name: declared_keys(name, text) for name, text in bodies.items()}

        culling = {
            name: re.search(r"^\s*cull\(", body, re.MULTILINE) is not None
            for name, body in bodies.items()
        }

        def register(text: _Text, name: str, prefix: str = "") -> None:
            names, culls = _lua_names(declared[name][0]), str(culling[name]).lower()
            text.add(f"{prefix}register('{name}', {names}, {culls}, function()")
            text.add(bodies[name], f"{name}.lua")
            text.add("end)")

        # Named from its text (the name itself left out), so another text has another name.
        digest = hashlib.sha1(shared.source().encode())
        for body in bodies.values():
            digest.update(body.encode())
        self.name = f"halo_gate_{digest.hexdigest()[:12]}"
        library = _Text(f"#!lua name={self.name}")
        library.extend(shared)
        library.add(
            "local function register(name, names, culls, body)\n"
            "  local keyed\n"
            f"  redis.register_function('{self.name}_' .. name, function(keys, args)\n"
            "    keyed = keyed or setmetatable({}, UNDECLARED)\n"
            "    return run(names, culls, keyed, keys, args, body)\n"
            "  end)\n"
            "end"
        )
        for name in OPERATIONS:
            register(library, name)
        self.source = library.source()
        self._origins = {"": library.origins}

        self.operations: dict[str, Operation] = {}
        for name in OPERATIONS:
            # KEYS and ARGV are a script's globals; the shared code has an ARGV of its own.
            script = _Text("local SCRIPT_KEYS, SCRIPT_ARGV = KEYS, ARGV")
            script.extend(shared)
            script.add(
                "local function register(_, names, culls, body)\n"
                "  local keyed = setmetatable({}, UNDECLARED)\n"
                "  return run(names, culls, keyed, SCRIPT_KEYS, SCRIPT_ARGV, body)\n"
                "end"
            )
            register(script, name, prefix="return ")
            text = script.source()
            sha = hashlib.sha1(text.encode()).hexdigest()
            self._origins[sha] = script.origins
            names, people = declared[name]
            function = f"{self.name}_{name}"
            self.operations[name] = Operation(
                name, names, people, culling[name], function, text, sha
            )

    def where(self, message: str, operation: Operation, functions: bool) -> str:
        """``message`` with each line of the library (or of the operation's script, without
        ``functions``) it names shown as the file and line it comes from."""
        origins = self._origins["" if functions else operation.sha]

        def located(match: re.Match[str]) -> str:
            line = int(match.group(1))
            if 0 < line <= len(origins) and origins[line - 1][0]:
                origin, number = origins[line - 1]
                return f"{origin}:{number}"
            return match.group(0)

        return _ERROR_AT.sub(located, message)


@functools.cache
def library() -> Library:
    """The library of this package's scripts, read once per process."""
    return Library()
