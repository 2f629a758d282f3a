"""The reference page of the administrators' API, ``docs/reference/api.md``, written from the
OpenAPI document (``scripts/api_reference.py`` writes it; a test keeps the committed page equal
to what this module makes, so it cannot drift from the routes)."""

from __future__ import annotations

from typing import Any

from .api import OPERATIONS
from .openapi import document

Schema = dict[str, Any]
# Longer patterns are left to the description: the page is for people.
PATTERN_SHOWN = 40


def default_document() -> dict[str, Any]:
    """The document of a gateway with the default prefix and cookie name."""
    return document(tuple(OPERATIONS), "/_halo", "halo_session")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _name(ref: str) -> str:
    return ref.rpartition("/")[2]


def kind(schema: Schema) -> str:
    """A schema in a few words ("integer, 1 to 1,000, default `50`"), a named one as a link
    to its section."""
    if "$ref" in schema:
        name = _name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    if "oneOf" in schema:
        return " or ".join(kind(option) for option in schema["oneOf"])
    if "const" in schema:
        return f"`{schema['const']}`"
    types = schema.get("type", "any")
    types = types if isinstance(types, list) else [types]
    details = []
    if "enum" in schema:
        words = "one of " + ", ".join(
            "null" if value is None else f"`{value}`" for value in schema["enum"]
        )
    elif "array" in types:
        words = "list of " + kind(schema.get("items", {}))
    elif "object" in types and "properties" not in schema:
        value = schema.get("additionalProperties")
        words = "object" if not isinstance(value, dict) else f"object, by name: {kind(value)}"
    else:
        words = " or ".join(types)
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            details.append(f"{low:,} to {high:,}")
        elif low is not None:
            details.append(f"at least {low:,}")
        if "maxLength" in schema:
            low_length = schema.get("minLength", 0)
            span = f"{low_length} to " if low_length else "at most "
            details.append(f"{span}{schema['maxLength']} characters")
        pattern = schema.get("pattern")
        if pattern and len(pattern) <= PATTERN_SHOWN:
            details.append(f"matching `{pattern}`")
        elif pattern and "description" in schema:
            words += f" ({schema['description']})"
        elif pattern:
            details.append("of the pattern in openapi.json")
    if "default" in schema:
        details.append(
            f"default `{schema['default']}`" if schema["default"] != "" else 'default ""'
        )
    return ", ".join([words, *details])


def _fields(schema: Schema, prefix: str = "") -> list[tuple[str, Schema, bool]]:
    """(dotted name, schema, required) of each field, nested objects and lists of objects
    flattened: ``named.seats``, ``licences[].person``."""
    rows = []
    required = set(schema.get("required", ()))
    for name, field in schema.get("properties", {}).items():
        rows.append((prefix + name, field, name in required))
        if "properties" in field:
            rows.extend(_fields(field, f"{prefix}{name}."))
        items = field.get("items", {})
        if "properties" in items:
            rows.extend(_fields(items, f"{prefix}{name}[]."))
        value = field.get("additionalProperties")
        if isinstance(value, dict) and "properties" in value:
            rows.extend(_fields(value, f"{prefix}{name}.GROUP."))
    return rows


def _operation(method: str, path: str, operation: Schema) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", "", operation["summary"] + "."]
    if "description" in operation:
        lines += ["", operation["description"]]
    lines += ["", "| | name | schema | meaning |", "|---|---|---|---|"]
    for param in operation.get("parameters", []):
        place = f"`{param['name']}` ({param['in']})"
        meaning = _cell(param.get("description", ""))
        lines.append(f"| parameter | {place} | {_cell(kind(param['schema']))} | {meaning} |")
    body = operation.get("requestBody")
    if body is not None:
        schema = body["content"]["application/json"]["schema"]
        lines.append(f"| body | JSON | {_cell(kind(schema))} | |")
    for status, answer in operation["responses"].items():
        content = answer.get("content", {}).get("application/json")
        shown = _cell(kind(content["schema"])) if content else "no body"
        headers = ", ".join(f"`{name}`" for name in answer.get("headers", {}))
        meaning = _cell(answer["description"]) + (f"; headers {headers}" if headers else "")
        lines.append(f"| answer | {status} | {shown} | {meaning} |")
    return [*lines, ""]


def _component(name: str, schema: Schema) -> list[str]:
    lines = [f"### {name}", ""]
    if "description" in schema:
        lines += [schema["description"], ""]
    fields = _fields(schema)
    if not fields:
        return [*lines, kind(schema) + ".", ""]
    closed = schema.get("additionalProperties") is False
    lines += ["| field | schema | required |", "|---|---|---|"]
    lines += [
        f"| `{field}` | {_cell(kind(sub))} | {'yes' if required else 'no'} |"
        for field, sub, required in fields
    ]
    if closed:
        lines += ["", "No other field."]
    return [*lines, ""]


def markdown(doc: dict[str, Any]) -> str:
    """The reference page of ``doc``."""
    info = doc["info"]
    lines = [
        "# The administrators' API",
        "",
        "<!-- Written by scripts/api_reference.py from the OpenAPI document; do not edit. -->",
        "",
        info["description"],
        "",
        "The document itself is served to administrators at `GET /_halo/api/openapi.json` "
        f"(OpenAPI {doc['openapi']}). Credentials, either of:",
        "",
    ]
    for name, scheme in doc["components"]["securitySchemes"].items():
        where = (
            "the `Authorization: Bearer` header"
            if scheme["type"] == "http"
            else (f"the `{scheme['name']}` cookie")
        )
        lines.append(f"- **{name}**: {where}, {scheme['description']}")
    lines += ["", "## Operations", ""]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            lines += _operation(method, path, operation)
    lines += ["## Schemas", ""]
    for name, schema in doc["components"]["schemas"].items():
        lines += _component(name, schema)
    return "\n".join(lines).rstrip("\n") + "\n"
