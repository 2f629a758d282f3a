"""Licence holders and the waiting line as administrators see them: the JSON of
``GET /_halo/api/licences`` and ``GET /_halo/api/queue``, and the actions on them.

A holder is a person, not a session: ending a licence ends every session of the person and
frees their slot at once on every worker; ending one session says whether the licence is still
held by another.
"""

from __future__ import annotations

import re
from typing import Any

from ..licensing import LicenceEngine
from ..licensing.reads import HeldSession, Holder, HolderPage, LinePage

# Browsers in the order their User-Agent tokens must be tried: Edge and Opera also say Chrome,
# Chrome also says Safari.
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device(user_agent: str) -> str:
    """A short name for a browser from its User-Agent: "Firefox 128 on Linux"; a client that is
    no browser by its first word ("curl/8.5"); "unknown" when nothing was noted."""
    if not user_agent:
        return "unknown"
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    for token, name in _BROWSERS:
        found = re.search(re.escape(token) + r"(\d+)", user_agent)
        if found and (token != "Version/" or "Safari/" in user_agent):
            browser = f"{name} {found.group(1)}"
            return f"{browser} on {system}" if system else browser
    return user_agent.split()[0][:60]


def _session(s: HeldSession) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "device": device(s.user_agent),
        "user_agent": s.user_agent,
        "address": s.address,
        "since": s.since,
        "last_seen": s.last_seen,
        "expires_at": s.expires_at,
    }


def holder_json(h: Holder) -> dict[str, Any]:
    return {
        "person": h.person,
        "licence": h.licence,
        "group": h.group,
        "since": h.since,
        "last_activity": h.last_activity,
        "sessions": [_session(s) for s in h.sessions],
    }


def licences_json(page: HolderPage, *, offset: int, limit: int) -> dict[str, Any]:
    """The object of ``GET /_halo/api/licences``."""
    return {
        "licences": [holder_json(h) for h in page.holders],
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "now": page.now,
    }


def sessions_json(page: HolderPage, *, offset: int, limit: int) -> dict[str, Any]:
    """The object of ``GET /_halo/api/sessions``: the sessions of a page of holders (offset,
    limit and total count holders, so that a page never walks every session)."""
    return {
        "sessions": [
            {
                "session_id": s.session_id,
                "user": h.person,
                "licence": h.licence,
                "since": s.since,
                "last_seen": s.last_seen,
                "expires_at": s.expires_at,
                "device": device(s.user_agent),
                "address": s.address,
            }
            for h in page.holders
            for s in h.sessions
        ],
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "now": page.now,
    }


def queue_json(page: LinePage, *, offset: int, limit: int) -> dict[str, Any]:
    """The object of ``GET /_halo/api/queue``."""
    return {
        "waiting": [
            {
                "person": w.person,
                "group": w.groups[0] if w.groups else None,
                "groups": list(w.groups),
                "since": w.since,
                "position": w.position,
                "offer_until": w.offer_until,
                "place_until": w.place_until,
            }
            for w in page.waiting
        ],
        "length": page.length,
        "groups": page.by_group,
        "offset": offset,
        "limit": limit,
        "now": page.now,
    }


async def holders(engine: LicenceEngine, *, search: str, offset: int, limit: int) -> HolderPage:
    needle = search.strip().lower()
    if needle:
        return await engine.reads.search(needle, offset=offset, limit=limit)
    return await engine.reads.holders(offset=offset, limit=limit)


async def end_session(
    engine: LicenceEngine, session_id: str, *, by: str, person: str | None = None
) -> dict[str, Any] | None:
    """End one session; None when no live session has that id. The session's person is the
    one noted at its sign-in; for a session without a note, ``person`` when given, else the
    one found by walking the holders (see ``Reads.find_owner``)."""
    if not session_id:
        return None
    owner = await engine.reads.owner(session_id)
    if owner is None and person:
        owner = person.strip().lower()
    elif owner is None:
        owner = await engine.reads.find_owner(session_id)
    if owner is None or not await engine.end_session(owner, session_id, by=by):
        return None
    left = await engine.reads.holder(owner)
    return {
        "ended": session_id,
        "person": owner,
        "licence_held": left is not None,
        "sessions_left": len(left.sessions) if left else 0,
    }


async def end_licence(engine: LicenceEngine, person: str, *, by: str) -> dict[str, Any] | None:
    """End every session of ``person``, freeing their slot; None when they hold no licence."""
    person = person.strip().lower()
    held = await engine.reads.holder(person)
    if held is None:
        return None
    ended = await engine.end_session(person, by=by)
    return {"person": person, "licence": held.licence, "sessions_ended": ended}
