"""The gateway's own answers: HTML pages from jinja2 templates for browsers, JSON for others.

Pages are plain, readable on a phone and load nothing from outside (styles are inline).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, TypedDict

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..licensing import Decision

_templates = Environment(
    loader=PackageLoader("halo_gate.pages", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# The headers of every answer of the gateway's own: never cached, and never shown in a frame,
# where a page of another origin (even of the same site) could take a click on "Leave the
# line" or "Sign out" (clickjacking). The console adds a fuller Content-Security-Policy.
NO_STORE = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
# The pool-full page reloads itself at least this often, since slots free at logout too.
MAX_REFRESH = 30


def wants_html(headers: Headers) -> bool:
    """Whether ``Accept`` names HTML. ``*/*`` alone does not: API clients and fetch() send it."""
    for item in headers.get("accept", "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media in ("text/html", "application/xhtml+xml") and "q=0" not in params:
            return True
    return False


def is_navigation(method: str, headers: Headers) -> bool:
    """A browser loading a page: a GET or HEAD that accepts HTML."""
    return method in ("GET", "HEAD") and wants_html(headers)


def render(template: str, status: int, **context: Any) -> HTMLResponse:
    body = _templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


def message(status: int, title: str, text: str, actions: list[tuple[str, str]]) -> HTMLResponse:
    return render("message.html", status, title=title, message=text, actions=actions)


def login_required(navigation: bool, login_url: str) -> Response:
    if navigation:
        return RedirectResponse(login_url, status_code=302, headers=NO_STORE)
    return JSONResponse(
        {"error": "login_required", "login_url": login_url}, status_code=401, headers=NO_STORE
    )


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


def pool_full(
    html: bool,
    *,
    capacity: int,
    in_use: int,
    retry_after: int,
    retry_url: str,
    logout_url: str,
    now: float | None = None,
    reason: str = "pool_full",
    group: str | None = None,
    limit: int | None = None,
    held: int | None = None,
    harvested_after: int = 0,
) -> Response:
    """The pool is full for this person: all its slots, all the slots open to them (the shared
    part, the rest being reserved for groups), or their group's cap (``reason`` "group_cap",
    ``limit`` the cap and ``held`` the slots its members hold)."""
    retry_after = max(1, retry_after)
    limit = capacity if limit is None else limit
    held = in_use if held is None else held
    headers = {**NO_STORE, "Retry-After": str(retry_after)}
    if not html:
        body: dict[str, Any] = {
            "error": reason,
            "reason": "harvested" if harvested_after else reason,
            "group": group,
            "capacity": capacity,
            "in_use": in_use,
            "retry_after": retry_after,
        }
        if reason == "group_cap":
            body.update(group_cap=limit, group_in_use=held)
        return JSONResponse(body, status_code=503, headers=headers)
    frees = datetime.fromtimestamp((time.time() if now is None else now) + retry_after, UTC)
    title = "All licences are in use"
    if reason == "group_cap":
        title = "All of your group's licences are in use"
    elif reason == "queue_full":
        title = "All licences are in use, and the waiting line is full"
    response = render(
        "pool_full.html",
        503,
        title=title,
        reason=reason,
        capacity=capacity,
        in_use=in_use,
        group=group and group[:1].upper() + group[1:],
        group_cap=reason == "group_cap",
        limit=limit,
        held=held,
        frees_at=frees.strftime("%H:%M:%S UTC"),
        frees_at_iso=frees.isoformat(timespec="seconds"),
        retry_after_text=_duration(retry_after),
        refresh=min(retry_after, MAX_REFRESH),
        retry_url=retry_url,
        logout_url=logout_url,
        harvested_minutes=_minutes(harvested_after),
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _wait_text(seconds: int | None, between: tuple[int, int] | None = None) -> str:
    """The estimated wait in words; while few slots have freed lately (``between`` given), the
    range it is likely to fall in rather than one figure."""
    if seconds is None:
        return "unknown"
    if between is not None:
        low, high = between
        if high < 60:
            return "under a minute"
        return f"between {_rough(low)} and {_rough(high)}: few licences have freed lately"
    if seconds < 60:
        return "under a minute"
    return f"about {_duration(seconds)}"


def _rough(seconds: int) -> str:
    if seconds < 60:
        return "a few seconds" if seconds < 20 else "under a minute"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


def waiting(
    html: bool,
    decision: Decision,
    *,
    poll: int,
    retry_url: str,
    leave_url: str,
    csrf_token: str,
    now: float,
    harvested_after: int = 0,
) -> Response:
    """The waiting room: the person has a place in the line (``decision.position``). The page
    asks again every ``poll`` seconds, by itself and without JavaScript, at its own address, so
    it turns into the application's page as soon as the slot is theirs."""
    headers = {**NO_STORE, "Retry-After": str(poll)}
    if not html:
        body = {
            "error": decision.outcome,
            "reason": "harvested" if harvested_after else decision.outcome,
            "group": decision.group,
            "capacity": decision.capacity,
            "in_use": decision.in_use,
            "retry_after": poll,
            "position": decision.position,
            "ahead": decision.ahead,
            "estimated_wait": decision.estimated_wait,
            "estimated_wait_range": list(decision.wait_range) if decision.wait_range else None,
        }
        return JSONResponse(body, status_code=503, headers=headers)
    checked = datetime.fromtimestamp(now, UTC)
    response = render(
        "waiting.html",
        503,
        title="You are in line for a licence",
        decision=decision,
        group=decision.group and decision.group[:1].upper() + decision.group[1:],
        estimate=_wait_text(
            decision.estimated_wait, decision.wait_range if decision.wait_thin else None
        ),
        checked_at=checked.strftime("%H:%M:%S UTC"),
        checked_at_iso=checked.isoformat(timespec="seconds"),
        poll=poll,
        retry_url=retry_url,
        leave_url=leave_url,
        csrf_token=csrf_token,
        harvested_minutes=_minutes(harvested_after),
    )
    response.headers["Retry-After"] = str(poll)
    return response


class RefusalDetails(TypedDict):
    reason: str
    group: str | None
    limit: int
    held: int


def _minutes(seconds: int) -> int:
    """Whole minutes (at least one) for a harvest threshold; 0 when there is none."""
    return max(1, round(seconds / 60)) if seconds else 0


def refusal_details(decision: Decision) -> RefusalDetails:
    """The keywords of :func:`pool_full` that say which slots were full, from a refusal."""
    return {
        "reason": decision.outcome,
        "group": decision.group,
        "limit": decision.limit,
        "held": decision.held,
    }


def no_licence(html: bool, text: str, logout_url: str) -> Response:
    if not html:
        body = {"error": "no_licence", "reason": "no_licence", "group": None}
        return JSONResponse(body, status_code=403, headers=NO_STORE)
    return message(403, "No licence", text, [("Sign out", logout_url)])


def store_unavailable(html: bool, *, retry_url: str) -> Response:
    if not html:
        return JSONResponse(
            {"error": "store_unavailable"},
            status_code=503,
            headers={**NO_STORE, "Retry-After": "5"},
        )
    response = message(
        503,
        "Licence service unavailable",
        "The licence service is not answering just now, so nobody can be let in. "
        "Please try again in a moment.",
        [("Try again", retry_url)],
    )
    response.headers["Retry-After"] = "5"
    return response


def error(
    html: bool, status: int, code: str, title: str, text: str, actions: list[tuple[str, str]]
) -> Response:
    if not html:
        return JSONResponse({"error": code, "message": text}, status_code=status, headers=NO_STORE)
    return message(status, title, text, actions)


def logout_page(
    *, person: str | None, csrf_token: str, logout_url: str, login_url: str, others: int = 0
) -> HTMLResponse:
    """The sign-out form; ``others``: the person's other live sessions, which keep their
    licence unless they sign out everywhere."""
    title = "Sign out" if person else "Signed out"
    return render(
        "logout.html",
        200,
        title=title,
        person=person,
        csrf_token=csrf_token,
        logout_url=logout_url,
        login_url=login_url,
        others=others,
    )


def ended_by_admin(login_url: str) -> HTMLResponse:
    """The page for a person whose session an administrator has just ended."""
    return message(
        401,
        "Your session was ended",
        "An administrator ended your session. Sign in again to carry on.",
        [("Sign in again", login_url)],
    )


def not_signed_in(html: bool, retry_url: str) -> Response:
    """A request that names nobody, where the sign-in is the proxy's or the application's."""
    if not html:
        body = {"error": "login_required", "login_url": retry_url}
        return JSONResponse(body, status_code=401, headers=NO_STORE)
    return message(
        401,
        "Not signed in",
        "This site takes your sign-in from the service in front of it, and none reached it. "
        "Sign in there, then try again.",
        [("Try again", retry_url)],
    )


def sign_in(login_url: str) -> HTMLResponse:
    """Forward auth's 401 for a browser: Traefik and Caddy show it as it is, so it goes on to
    the sign-in by itself."""
    return render("sign_in.html", 401, title="Sign in", login_url=login_url)
