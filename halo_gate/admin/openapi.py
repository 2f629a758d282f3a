"""The administrators' API described once: each operation is declared beside its handler
(``halo_gate.admin.api``) with its parameters, body and answers; the API dispatches and reads
its query parameters from those declarations, and the OpenAPI 3.1 document served at
``/_halo/api/openapi.json`` is built from them.

``/_halo/me`` is the gateway's own route (``halo_gate.gateway.routes``); its declaration is
here, beside the others, so that the one document describes every JSON answer a client of the
administrators' side reads.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from .operations import BadRequest
from .schemas import COMPONENTS, Schema, ref

VERSION = "1"
# The most characters of a text parameter: far above any person's name or filter.
MAX_TEXT = 320


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter: its JSON Schema is both the document's and the request's check."""

    name: str
    schema: Schema
    description: str

    def read(self, given: str) -> Any:
        """``given`` as the schema describes it; raises ``BadRequest`` naming the parameter."""
        schema = self.schema
        if schema["type"] == "integer":
            if not re.fullmatch(r"-?[0-9]{1,19}", given):
                shown = repr(given[:40])
                raise BadRequest(f"{self.name} has value {shown}. It must be a whole number.")
            value = int(given)
            low, high = schema.get("minimum"), schema.get("maximum")
            if (low is not None and value < low) or (high is not None and value > high):
                raise BadRequest(f"{self.name} must be from {low} to {high}.")
            return value
        if "enum" in schema and given not in schema["enum"]:
            allowed = ", ".join(schema["enum"])
            raise BadRequest(f"{self.name} has value {given[:40]!r}. It must be one of {allowed}.")
        if "pattern" in schema and not re.fullmatch(schema["pattern"].strip("^$"), given):
            raise BadRequest(
                f"{self.name} has value {given[:40]!r}. It must be {self.description}."
            )
        if not schema.get("minLength", 0) <= len(given) <= schema.get("maxLength", MAX_TEXT):
            high = schema.get("maxLength", MAX_TEXT)
            raise BadRequest(
                f"{self.name} must be from {schema.get('minLength', 0)} to {high} characters long."
            )
        return given


def integer(name: str, description: str, *, low: int, high: int, default: int) -> Param:
    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return Param(name, schema, description)


def text(name: str, description: str, **schema: Any) -> Param:
    return Param(name, {"type": "string", "maxLength": MAX_TEXT, **schema}, description)


@dataclass(frozen=True, slots=True)
class Answer:
    """One documented answer: a status, what it means, and its JSON body's schema."""

    description: str
    schema: Schema | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # name: description


ERROR = ref("Error")
# Answers every administrators' operation may give.
COMMON: dict[int, Answer] = {
    302: Answer(
        "a browser's navigation (Accept names text/html) from nobody signed in: to the sign-in",
        headers={"Location": "the sign-in URL, with next= this request"},
    ),
    401: Answer(
        "nobody signed in (login_required), or a bearer token that is not the admin token "
        "(bad_token)",
        {"oneOf": [ref("LoginRequired"), ERROR]},
    ),
    403: Answer("signed in but no administrator (forbidden)", ERROR),
    405: Answer(
        "a method the resource does not answer (method_not_allowed)",
        ERROR,
        {"Allow": "the methods it answers"},
    ),
    503: Answer(
        "the licence store is not answering (store_unavailable)",
        ref("StoreUnavailable"),
        {"Retry-After": "seconds"},
    ),
}
CROSS_ORIGIN = Answer(
    "signed in but no administrator (forbidden); or, with the cookie, a request from another "
    "origin, and with a wrong token any request (cross_origin)",
    ERROR,
)
BAD_REQUEST = Answer("a parameter or the body is malformed (bad_request)", ERROR)

# A handler: (the API, the request, the path item, who asks, the query parameters read).
Handler = Callable[[Any, Request, str, str, dict[str, Any]], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one resource of ``/_halo/api/``, with a path item or not."""

    method: str
    resource: str
    summary: str
    answers: Mapping[int, Answer]
    item: Param | None = None  # the path parameter, for ``resource/{item}``
    query: tuple[Param, ...] = ()
    body: Schema | None = None
    handler: Handler | None = None
    description: str = ""

    @property
    def path(self) -> str:
        return f"/api/{self.resource}" + (f"/{{{self.item.name}}}" if self.item else "")

    def read_query(self, query: QueryParams) -> dict[str, Any]:
        """The declared query parameters, checked: absent ones take their default."""
        values: dict[str, Any] = {}
        for param in self.query:
            given = query.getlist(param.name)
            if len(given) > 1:
                raise BadRequest(f"{param.name} is given {len(given)} times; give it once.")
            values[param.name] = param.read(given[0]) if given else param.schema.get("default")
        return values

    def document(self) -> dict[str, Any]:
        """This operation's OpenAPI object."""
        state_changing = self.method in ("PUT", "DELETE")
        answers: dict[int, Answer] = {**COMMON, **self.answers}
        if state_changing:
            answers[403] = CROSS_ORIGIN
            del answers[302]
        if self.query or self.body is not None or self.item is not None:
            answers.setdefault(400, BAD_REQUEST)
        parameters: list[dict[str, Any]] = [
            {"name": p.name, "in": "query", "description": p.description, "schema": p.schema}
            for p in self.query
        ]
        if self.item is not None:
            item = self.item
            path_param = {"name": item.name, "in": "path", "required": True}
            path_param |= {"description": item.description, "schema": item.schema}
            parameters.insert(0, path_param)
        found: dict[str, Any] = {
            "operationId": f"{self.method.lower()}_{self.resource.replace('.', '_')}"
            + ("_item" if self.item else ""),
            "summary": self.summary,
            "tags": ["administrators"],
        }
        if self.description:
            found["description"] = self.description
        if parameters:
            found["parameters"] = parameters
        if self.body is not None:
            content = {"application/json": {"schema": self.body}}
            found["requestBody"] = {"required": True, "content": content}
        found["responses"] = {str(status): _answer(answers[status]) for status in sorted(answers)}
        return found


def _answer(answer: Answer) -> dict[str, Any]:
    found: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        found["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in answer.headers.items()
        }
    if answer.schema is not None:
        found["content"] = {"application/json": {"schema": answer.schema}}
    return found


ME = Operation(
    "GET",
    "me",
    "Who is signed in, and their licence",
    {
        200: Answer(
            "the person; licence and expires_at are null unless status is licensed",
            ref("Me"),
        ),
        302: COMMON[302],
        400: Answer("the identity the request carries is not accepted (bad_identity)", ERROR),
        401: Answer("nobody signed in, or the session has ended", ref("LoginRequired")),
        403: Answer("a POST, PUT or DELETE from another origin (cross_origin)", ERROR),
        405: COMMON[405],
        503: COMMON[503],
    },
    description="Answers the session's cookie; the admin token names nobody here.",
)


def document(operations: tuple[Operation, ...], prefix: str, cookie_name: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations`` and ``/me``, under ``prefix``, for a gateway
    whose session cookie is ``cookie_name``."""
    paths: dict[str, dict[str, Any]] = {}
    me = ME.document()
    me["operationId"] = "get_me"
    me["tags"] = ["everyone"]
    me["security"] = [{"cookie": []}]
    paths[prefix + "/me"] = {"get": me}
    for operation in operations:
        paths.setdefault(prefix + operation.path, {})[operation.method.lower()] = (
            operation.document()
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "halo-gate administrators' API",
            "version": VERSION,
            "description": (
                "JSON for administrators (HALO_GATE_ADMINS, HALO_GATE_ADMIN_GROUPS) with their "
                "session cookie, or for any client sending Authorization: Bearer "
                "$HALO_GATE_ADMIN_TOKEN. A PUT or DELETE with the cookie must come from the "
                "gateway's own origin. A request whose Accept names text/html gets the same "
                "statuses as HTML pages. Times are epoch seconds."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "HALO_GATE_ADMIN_TOKEN",
                },
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie_name,
                    "description": "an administrator's session (HALO_GATE_COOKIE_NAME)",
                },
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
