"""The administrators' JSON API under ``/_halo/api/``: usage, sessions, named, capacity,
events, history and recommendation. Lists are paged (``offset``/``limit``, or ``before`` for
the audit log)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import pages
from ..licensing import StoreUnavailable
from ..licensing.pools import as_text
from .operations import BadRequest, Operations, Refused, page_bounds
from .recommend import Recommender

Handler = Callable[[Request, str, str], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status, headers=pages.NO_STORE)


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": code, "message": message}, status)


class AdminAPI:
    """Answers ``/_halo/api/<resource>[/<item>]`` for a caller already known to be an admin."""

    def __init__(self, ops: Operations, recommender: Recommender, *, timeout: float) -> None:
        self.ops = ops
        self.recommender = recommender
        self.timeout = timeout
        self._resources: dict[str, dict[str, Handler]] = {
            "usage": {"GET": self._usage},
            "sessions": {"GET": self._sessions, "DELETE": self._end_session},
            "named": {"GET": self._named, "PUT": self._assign, "DELETE": self._unassign},
            "capacity": {"GET": self._capacity, "PUT": self._resize},
            "events": {"GET": self._events},
            "history": {"GET": self._history},
            "recommendation": {"GET": self._recommendation},
        }
        # Which of them take an item (``sessions/{id}``) for which methods.
        self._with_item = {("sessions", "DELETE"), ("named", "PUT"), ("named", "DELETE")}

    async def __call__(self, request: Request, rest: str, by: str) -> Response:
        resource, _, item = rest.partition("/")
        methods = self._resources.get(resource)
        if methods is None:
            return _error(404, "not_found", f"There is no API resource {resource!r}.")
        method = "GET" if request.method == "HEAD" else request.method
        handler = methods.get(method)
        if handler is None:
            allowed = ", ".join(methods)
            return _error(405, "method_not_allowed", f"{resource} answers {allowed}.")
        if bool(item) != ((resource, method) in self._with_item):
            return _error(404, "not_found", f"{method} {resource} takes no such path.")
        # The recommendation may wait a moment for a run it started (``recommend.WAIT``).
        limit = None if resource == "recommendation" else self.timeout
        try:
            async with asyncio.timeout(limit):
                return await handler(request, unquote(item), by)
        except BadRequest as error:
            return _error(400, "bad_request", str(error))
        except (StoreUnavailable, TimeoutError, OSError):
            return pages.store_unavailable(False, retry_url="")

    async def _usage(self, request: Request, item: str, by: str) -> Response:
        return _json(await self.ops.usage())

    async def _sessions(self, request: Request, item: str, by: str) -> Response:
        query = request.query_params
        offset, limit = page_bounds(query.get("offset"), query.get("limit"))
        found = await self.ops.sessions(search=query.get("search", ""), offset=offset, limit=limit)
        return _json(found)

    async def _end_session(self, request: Request, item: str, by: str) -> Response:
        if not await self.ops.end_session(item, by=by):
            return _error(404, "not_found", "No live session has that id.")
        return _json({"ended": item})

    async def _named(self, request: Request, item: str, by: str) -> Response:
        return _json(await self.ops.named())

    async def _assign(self, request: Request, item: str, by: str) -> Response:
        answer = await self.ops.assign(item, by=by)
        if isinstance(answer, Refused):
            return _json(answer.body, answer.status)
        return _json(answer)

    async def _unassign(self, request: Request, item: str, by: str) -> Response:
        if not await self.ops.unassign(item, by=by):
            return _error(404, "not_found", f"{item} holds no named seat.")
        return _json({"person": item.strip().lower(), "outcome": "unassigned"})

    async def _capacity(self, request: Request, item: str, by: str) -> Response:
        usage = await self.ops.usage()
        rules = await self.ops.engine.pools()
        return _json(
            {
                "concurrent_seats": usage["concurrent"]["seats"],
                "named_seats": usage["named"]["seats"],
                "pool_reserve": as_text(rules.reserve),
                "pool_cap": as_text(rules.cap),
            }
        )

    async def _resize(self, request: Request, item: str, by: str) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise BadRequest("The body is not JSON.") from None
        return _json(await self.ops.resize(body, by=by))

    async def _events(self, request: Request, item: str, by: str) -> Response:
        query = request.query_params
        _, limit = page_bounds(0, query.get("limit"))
        page = await self.ops.events(
            limit=limit,
            before=query.get("before"),
            person=query.get("person"),
            event=query.get("event"),
        )
        return _json(page)

    async def _history(self, request: Request, item: str, by: str) -> Response:
        return _json(await self.ops.history())

    async def _recommendation(self, request: Request, item: str, by: str) -> Response:
        return _json(await self.recommender.get())
