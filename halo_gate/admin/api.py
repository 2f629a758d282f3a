"""The administrators' JSON API under ``/_halo/api/``: usage, licences, sessions, queue, named,
capacity, events, history, recommendation and the OpenAPI document. Lists are paged
(``offset``/``limit``, or ``before`` for the audit log).

Each handler is declared with its parameters and answers (``halo_gate.admin.openapi``): the
dispatch, the reading of query parameters and the document all come from those declarations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import pages
from ..licensing import StoreUnavailable
from ..licensing.guard import StoreGuard
from .openapi import Answer, Handler, Operation, Param, document, integer, text
from .operations import MAX_PAGE, STREAM_ID, BadRequest, Conflict, Operations, Refused
from .recommend import Recommender
from .schemas import ref

Args = dict[str, Any]
H = TypeVar("H", bound=Handler)
OPERATIONS: list[Operation] = []


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers={**pages.NO_STORE, **(headers or {})})


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    return _json({"error": code, "message": message}, status, headers)


def api(
    method: str,
    resource: str,
    summary: str,
    answers: dict[int, Answer],
    *,
    item: Param | None = None,
    query: tuple[Param, ...] = (),
    body: dict[str, Any] | None = None,
    description: str = "",
) -> Callable[[H], H]:
    """Declares the decorated method as the handler of ``method`` on ``resource``."""

    def declare(handler: H) -> H:
        OPERATIONS.append(
            Operation(method, resource, summary, answers, item, query, body, handler, description)
        )
        return handler

    return declare


def ok(description: str, schema: str) -> dict[int, Answer]:
    return {200: Answer(description, ref(schema))}


def not_found(description: str) -> Answer:
    return Answer(description + " (not_found)", ref("Error"))


OFFSET = integer("offset", "holders (or waiters) to skip", low=0, high=10**9, default=0)
LIMIT = integer("limit", "the most to answer", low=1, high=MAX_PAGE, default=50)
SEARCH = text("search", "people whose name begins with it (case-insensitive)", default="")
# A person in a path is one segment the gateway routes as its own (no "/", "\\", ";" or "%",
# see ``halo_gate.gateway.paths``), without control characters, with something besides spaces
# and dots.
_PERSON_CHAR = r"[^;/\\%\x00-\x1f\x7f-\x9f]"
PERSON = text(
    "person",
    'the person, as their identity claim names them (no slash, backslash, ";" or "%")',
    minLength=1,
    pattern=rf"^{_PERSON_CHAR}*[^;/\\%.\s\x00-\x1f\x7f-\x9f]{_PERSON_CHAR}*$",
)
SESSION_ID = text(
    "session_id", "the session's id", minLength=1, maxLength=64, pattern="^[A-Za-z0-9_-]+$"
)
OWNER = text("person", "whose session it is, for a session whose sign-in noted no person")


class AdminAPI:
    """Answers ``/_halo/api/<resource>[/<item>]`` for a caller already known to be an admin."""

    def __init__(
        self,
        ops: Operations,
        recommender: Recommender,
        *,
        guard: StoreGuard,
        prefix: str = "/_halo",
        cookie_name: str = "halo_session",
    ) -> None:
        self.ops = ops
        self.recommender = recommender
        self.guard = guard
        self.operations = tuple(OPERATIONS)
        # The methods of each path: a resource alone, or with an item (``named/{person}``).
        self._paths: dict[tuple[str, bool], dict[str, Operation]] = {}
        for operation in self.operations:
            path = (operation.resource, operation.item is not None)
            self._paths.setdefault(path, {})[operation.method] = operation
        self.document = document(self.operations, prefix, cookie_name)

    async def __call__(self, request: Request, rest: str, by: str) -> Response:
        resource, _, item = rest.partition("/")
        methods = self._paths.get((resource, bool(item)))
        if methods is None:
            return _error(404, "not_found", f"There is no API resource {rest[:80]!r}.")
        method = "GET" if request.method == "HEAD" else request.method
        operation = methods.get(method)
        if operation is None:
            allowed = ", ".join(methods)
            message = f"This resource answers {allowed}."
            return _error(405, "method_not_allowed", message, Allow=allowed)
        handler = operation.handler
        assert handler is not None
        try:
            args = operation.read_query(request.query_params)
            if operation.item is not None:
                item = operation.item.read(item)
            if resource in ("recommendation", "openapi.json"):
                # The recommendation may wait a moment for a run it started
                # (``recommend.WAIT``), longer than a store call.
                return await handler(self, request, item, by, args)
            return await self.guard.call(lambda: handler(self, request, item, by, args))
        except Conflict as error:
            return _error(409, "conflict", str(error))
        except BadRequest as error:
            return _error(400, "bad_request", str(error))
        except StoreUnavailable:
            return pages.store_unavailable(False, retry_url="")

    @api("GET", "usage", "Seats, slots and groups in use", ok("the figures", "Usage"))
    async def _usage(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.usage())

    @api(
        "GET",
        "licences",
        "The people holding a licence, named first, most recently active first",
        ok("a page of licence holders with their sessions", "Licences"),
        query=(SEARCH, OFFSET, LIMIT),
    )
    async def _licences(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.licences(**args))

    @api(
        "DELETE",
        "licences",
        "End every session of a person, freeing their slot at once on every worker",
        {
            **ok("what was ended", "LicenceEnded"),
            404: not_found("the person holds no licence"),
        },
        item=PERSON,
    )
    async def _end_licence(self, request: Request, item: str, by: str, args: Args) -> Response:
        ended = await self.ops.end_licence(item, by=by)
        if ended is None:
            return _error(404, "not_found", f"{item} holds no licence.")
        return _json(ended)

    @api(
        "GET",
        "sessions",
        "The sessions of a page of licence holders",
        ok("offset, limit and total count holders, not sessions", "Sessions"),
        query=(SEARCH, OFFSET, LIMIT),
    )
    async def _sessions(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.sessions(**args))

    @api(
        "DELETE",
        "sessions",
        "End one session on every worker at once",
        {
            **ok("whether the person still holds the licence through another", "SessionEnded"),
            404: not_found("no live session has that id"),
        },
        item=SESSION_ID,
        query=(OWNER,),
    )
    async def _end_session(self, request: Request, item: str, by: str, args: Args) -> Response:
        ended = await self.ops.end_session(item, by=by, person=args["person"])
        if ended is None:
            return _error(404, "not_found", "No live session has that id.")
        return _json(ended)

    @api(
        "GET",
        "queue",
        "The waiting line in the order it is served",
        ok("a page of the line", "Queue"),
        query=(OFFSET, LIMIT),
    )
    async def _queue(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.queue(**args))

    @api(
        "DELETE",
        "queue",
        "Take a person out of the line, ending the sessions they waited with",
        {
            **ok('outcome "removed"', "Outcome"),
            404: not_found("the person is not waiting"),
        },
        item=PERSON,
    )
    async def _dequeue(self, request: Request, item: str, by: str, args: Args) -> Response:
        if not await self.ops.dequeue(item, by=by):
            return _error(404, "not_found", f"{item} is not waiting in line.")
        return _json({"person": item.strip().lower(), "outcome": "removed"})

    @api("GET", "named", "The named seats, their holders and cooldowns", ok("", "Named"))
    async def _named(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.named())

    @api(
        "PUT",
        "named",
        "Assign a named seat to a person",
        {
            **ok('outcome "assigned", or "already" when they held one', "Assigned"),
            400: Answer("the person is blank (bad_request)", ref("Error")),
            409: Answer("no seat is free, or the only free one is cooling down", ref("NoSeat")),
        },
        item=PERSON,
    )
    async def _assign(self, request: Request, item: str, by: str, args: Args) -> Response:
        answer = await self.ops.assign(item, by=by)
        if isinstance(answer, Refused):
            return _json(answer.body, answer.status)
        return _json(answer)

    @api(
        "DELETE",
        "named",
        "Take a named seat back (it cools down before anyone else takes it)",
        {
            **ok('outcome "unassigned"', "Outcome"),
            404: not_found("the person holds no named seat"),
        },
        item=PERSON,
    )
    async def _unassign(self, request: Request, item: str, by: str, args: Args) -> Response:
        if not await self.ops.unassign(item, by=by):
            return _error(404, "not_found", f"{item} holds no named seat.")
        return _json({"person": item.strip().lower(), "outcome": "unassigned"})

    @api("GET", "capacity", "The slots, seats and pool rules in force", ok("", "Capacity"))
    async def _capacity(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.capacity())

    @api(
        "PUT",
        "capacity",
        "Change the slots, seats or pool rules (audited; nobody's session ends)",
        {
            **ok("the fields changed", "CapacityChanged"),
            409: Answer("the pool rules do not fit the pool (conflict)", ref("Error")),
        },
        body=ref("CapacityChange"),
    )
    async def _resize(self, request: Request, item: str, by: str, args: Args) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise BadRequest("The body is not JSON.") from None
        return _json(await self.ops.resize(body, by=by))

    @api(
        "GET",
        "events",
        "The audit log, newest first",
        ok(
            "a page of the log; filtered by event or reason alone, it reads at most 5,000", "Events"
        ),
        query=(
            text("person", "only this person's events", default=""),
            text("event", "only events of this kind (admitted, denied, ...)", default=""),
            text("reason", "only events with this reason", default=""),
            LIMIT,
            text("before", "the next_before of the previous page", pattern=f"^{STREAM_ID}$"),
        ),
    )
    async def _events(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.events(**args))

    @api(
        "GET",
        "history",
        "Use over time: per minute (24h), per hour (7d) or per 4 hours (30d)",
        ok("peak in use, admissions, denials and the line, with capacity changes", "History"),
        query=(text("range", "the period", enum=["24h", "7d", "30d"], default="24h"),),
    )
    async def _history(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.ops.history(args["range"]))

    @api(
        "GET",
        "recommendation",
        "The named/concurrent split recommended from recorded use, with its cost",
        ok("kept for 5 minutes per worker", "Recommendation"),
    )
    async def _recommendation(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(await self.recommender.get())

    @api("GET", "openapi.json", "This document", ok("OpenAPI 3.1", "OpenAPI"))
    async def _openapi(self, request: Request, item: str, by: str, args: Args) -> Response:
        return _json(self.document)
