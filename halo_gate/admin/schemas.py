"""The JSON Schemas of the administrators' API answers and of ``/_halo/me``: the
``components.schemas`` of the OpenAPI document (``halo_gate.admin.openapi``).

Objects whose fields are fixed say so (``additionalProperties: false``), so the property test
fails on a field the document does not name. Times are epoch seconds.
"""

from __future__ import annotations

from typing import Any

from .operations import MAX_PAGE, MAX_SEATS

Schema = dict[str, Any]

INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
NUMBER: Schema = {"type": "number"}
TIME: Schema = {"type": "number", "description": "epoch seconds"}
TEXT: Schema = {"type": "string"}
MAYBE_TEXT: Schema = {"type": ["string", "null"]}
LICENCE: Schema = {"type": "string", "enum": ["named", "concurrent"]}
SEATS: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_SEATS}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def fixed(description: str = "", /, **properties: Schema) -> Schema:
    """An object with exactly these fields, every one of them present."""
    schema: Schema = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    return {"description": description, **schema} if description else schema


def listing(**properties: Schema) -> Schema:
    return {"type": "array", "items": fixed(**properties)}


def keyed(value: Schema, description: str) -> Schema:
    """An object keyed by group name."""
    return {"type": "object", "description": description, "additionalProperties": value}


def page(**properties: Schema) -> Schema:
    """A page of a list: its items and where it sits in the whole."""
    return fixed(
        **properties,
        total=COUNT,
        offset=COUNT,
        limit={"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        now=TIME,
    )


# Pool rules as ``halo_gate.licensing.pools`` reads them: "group=N,..." (blank entries and
# spaces around a group or number ignored; no comma or control character in a group), or an
# object keyed by group. A group named twice is refused too, which no pattern can say.
_GROUP = r"\s*[^,\x00-\x1f\x7f]*[^,\s\x00-\x1f\x7f][^,\x00-\x1f\x7f]*\s*"
_ENTRY = rf"({_GROUP}=\s*[0-9]+\s*|\s*)"
RULES_TEXT: Schema = {
    "type": "string",
    "pattern": f"^{_ENTRY}(,{_ENTRY})*$",
    "description": '"group=N,...", each group once; "" for none',
}
RULES: Schema = {
    "oneOf": [
        RULES_TEXT,
        {
            "type": "object",
            "propertyNames": {"pattern": f"^{_GROUP}$"},
            "additionalProperties": COUNT,
            "description": "slots by group, each group once",
        },
        {"type": "null", "description": "unchanged"},
    ]
}

RULES_OUT: Schema = {"type": "string", "description": '"group=N,..." in force; "" for none'}

SESSION: Schema = fixed(
    session_id=TEXT,
    device={**TEXT, "description": 'browser and system from the User-Agent, or "unknown"'},
    user_agent=TEXT,
    address=TEXT,
    since=TIME,
    last_seen=TIME,
    expires_at=TIME,
)

COMPONENTS: dict[str, Schema] = {
    "Error": fixed(
        "A refusal: a code and one sentence saying why.",
        error=TEXT,
        message=TEXT,
    ),
    "StoreUnavailable": fixed(
        "The licence store is not answering: ask again after Retry-After seconds.",
        error={"type": "string", "const": "store_unavailable"},
    ),
    "LoginRequired": fixed(
        "Nobody signed in (no cookie, or its session ended).",
        error={"type": "string", "const": "login_required"},
        login_url=TEXT,
    ),
    "Usage": fixed(
        named=fixed(seats=COUNT, assigned=COUNT, active=COUNT, quarantined=COUNT),
        concurrent=fixed(
            seats=COUNT,
            in_use=COUNT,
            peak_24h=COUNT,
            denials_24h=COUNT,
            harvested_24h={
                **COUNT,
                "description": "people whose idle slot was harvested for another",
            },
        ),
        groups=keyed(
            fixed(
                reserved=COUNT,
                cap={"type": ["integer", "null"], "minimum": 0},
                in_use=COUNT,
                in_reserve=COUNT,
                in_shared=COUNT,
                denials_24h=COUNT,
            ),
            "groups with pool rules",
        ),
        queue=fixed(length=COUNT, longest_wait={**NUMBER, "description": "seconds"}),
    ),
    "Licences": page(
        licences=listing(
            person=TEXT,
            licence=LICENCE,
            group=MAYBE_TEXT,
            since=TIME,
            last_activity=TIME,
            sessions={"type": "array", "items": SESSION},
        )
    ),
    "LicenceEnded": fixed(person=TEXT, licence=LICENCE, sessions_ended=COUNT),
    "Sessions": page(
        sessions=listing(
            session_id=TEXT,
            user=TEXT,
            licence=LICENCE,
            since=TIME,
            last_seen=TIME,
            expires_at=TIME,
            device=TEXT,
            address=TEXT,
        )
    ),
    "SessionEnded": fixed(
        ended=TEXT, person=TEXT, licence_held={"type": "boolean"}, sessions_left=COUNT
    ),
    "Queue": fixed(
        waiting=listing(
            person=TEXT,
            group=MAYBE_TEXT,
            groups={"type": "array", "items": TEXT},
            since=TIME,
            position={"type": "integer", "minimum": 1},
            offer_until={"type": ["number", "null"]},
            place_until=TIME,
        ),
        length=COUNT,
        groups=keyed(COUNT, "people waiting, by group with pool rules"),
        offset=COUNT,
        limit={"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        now=TIME,
    ),
    "Outcome": fixed(person=TEXT, outcome=TEXT),
    "Named": fixed(
        seats=COUNT,
        assigned=listing(person=TEXT, active={"type": "boolean"}),
        quarantined=listing(person=TEXT, until=TIME),
        now=TIME,
    ),
    "Assigned": fixed(person=TEXT, outcome={"type": "string", "enum": ["assigned", "already"]}),
    "NoSeat": {
        "oneOf": [
            fixed(
                "Every named seat is assigned.",
                error={"type": "string", "const": "no_seat"},
                message=TEXT,
                person=TEXT,
                seats=COUNT,
            ),
            fixed(
                "The only free seat is cooling down.",
                error={"type": "string", "const": "cooldown"},
                message=TEXT,
                person=TEXT,
                until=TIME,
                retry_after={"type": "integer", "minimum": 1},
            ),
        ]
    },
    "Capacity": fixed(
        concurrent_seats=SEATS, named_seats=SEATS, pool_reserve=RULES_OUT, pool_cap=RULES_OUT
    ),
    "CapacityChange": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "concurrent_seats": {**SEATS, "type": ["integer", "null"]},
            "named_seats": {**SEATS, "type": ["integer", "null"]},
            "pool_reserve": RULES,
            "pool_cap": RULES,
        },
        "additionalProperties": False,
        "description": "any of the fields; null or absent: unchanged",
    },
    "CapacityChanged": {
        "type": "object",
        "properties": {
            "concurrent_seats": SEATS,
            "named_seats": SEATS,
            "pool_reserve": RULES_OUT,
            "pool_cap": RULES_OUT,
        },
        "additionalProperties": False,
        "description": "the fields changed, as they now are (both counts when either changed)",
    },
    "Events": fixed(
        events={
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "event", "at"],
                "properties": {"id": TEXT, "event": TEXT, "at": TEXT},
                "additionalProperties": TEXT,
                "description": "the audit entry's fields as stored (user, licence, session, "
                "reason, in_use, capacity, group), all text",
            },
        },
        next_before={**MAYBE_TEXT, "description": "pass as before for the next page"},
        limit={"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        scanned=COUNT,
    ),
    "History": fixed(
        range={"type": "string", "enum": ["24h", "7d", "30d"]},
        step={"type": "integer", "minimum": 1, "description": "seconds per point"},
        now=TIME,
        capacity=COUNT,
        in_use=COUNT,
        queue=COUNT,
        points=listing(
            at=TIME,
            peak={"type": ["integer", "null"], "minimum": 0},
            admissions=COUNT,
            denials=COUNT,
            queue=COUNT,
        ),
        capacity_changes=listing(at=TIME, concurrent=COUNT, named=COUNT),
    ),
    "Recommendation": {
        "type": "object",
        # The record's figures (sessions, people) come with a result; while a run computes,
        # or when it failed, the answer says so instead.
        "required": ["currency", "history_days", "current", "status"],
        "properties": {
            "status": {
                "type": "string",
                "enum": ["ok", "no_prices", "too_little_data", "no_planner", "computing", "failed"],
            },
            "message": TEXT,
            "currency": TEXT,
            "history_days": COUNT,
            "sessions": COUNT,
            "people": COUNT,
            "current": fixed(named=COUNT, concurrent=COUNT),
            "cost": {"type": "object", "description": "the configuration in force, costed"},
            "plan": {"type": "object", "description": "the planner's recommended split"},
            "harvesting": fixed(
                "What harvesting idle slots after harvest_idle seconds would have needed on "
                "the same record; absent when that could not be told.",
                harvest_idle={"type": "integer", "minimum": 1},
                enabled={"type": "boolean", "description": "whether the installation harvests"},
                recorded_idle_timeout={"type": "integer", "minimum": 1},
                sessions_idled_out=COUNT,
                in_force=fixed(named=COUNT, concurrent_slots=COUNT),
                under_policy=fixed(named=COUNT, concurrent_slots=COUNT),
                fewer_slots=INTEGER,
                fewer_named=INTEGER,
                annual_saving=NUMBER,
                sentence=TEXT,
            ),
            "days_recorded": NUMBER,
            "computed_at": TEXT,
            "started_at": TEXT,
            "seconds": NUMBER,
        },
        "additionalProperties": False,
    },
    "OpenAPI": {"type": "object", "description": "this document"},
    "Me": fixed(
        user=TEXT,
        licence={"type": ["string", "null"], "enum": ["named", "concurrent", None]},
        status={"type": "string", "enum": ["licensed", "waiting", "none"]},
        groups={"type": "array", "items": TEXT},
        session_id=TEXT,
        expires_at={"type": ["number", "null"]},
    ),
}
