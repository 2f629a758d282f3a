"""The console at ``/_halo/admin``: one page that polls the JSON API for its live figures, and
the form posts behind its buttons (end a session, assign or unassign a seat, resize).

Every button is a form carrying the session's CSRF token, so the console works without
script; with script the page sends the same forms in the background and redraws. The page
loads nothing from elsewhere, and its Content-Security-Policy says so to the browser. Without
script, a form's outcome comes back as a code in the console's address (``?outcome=ended``),
and the page shows that code's fixed sentence: no text of the address reaches the page.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .. import pages
from .auth import Caller
from .operations import BadRequest, Operations, Refused, seat_count_text

# Nothing from outside the gateway: scripts and styles are inline, data comes from our API.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
ACTIONS = ("end", "end_licence", "dequeue", "assign", "unassign", "capacity")
# What the console's status line may say after a form posted without script, by outcome code.
OUTCOMES = {
    "ended": "Session ended.",
    "ended_licence_free": "Session ended; the licence is free.",
    "ended_licence_held": "Session ended; the person still holds a licence elsewhere.",
    "already_ended": "That session has already ended.",
    "licence_ended": "Licence freed: every session of the person ended.",
    "no_licence": "That person holds no licence.",
    "dequeued": "Taken out of the line.",
    "not_waiting": "That person is not waiting in line.",
    "assigned": "Named seat assigned.",
    "no_seat": "No named seat is free.",
    "cooldown": "The free named seat is still cooling down after being taken back.",
    "unassigned": "Seat taken back; it cools down before anyone else takes it.",
    "not_named": "That person holds no named seat.",
    "resized": "Capacity changed.",
    "bad_assign": "Name the person to give a named seat to.",
    "bad_capacity": "The new capacity was not accepted: check the numbers and pool rules.",
    "csrf": "The form was out of date. Reload the console and try again.",
    "not_found": "There is no such console action.",
    "method_not_allowed": "Console actions are sent by the console's own buttons.",
}


class Console:
    def __init__(self, ops: Operations, prefix: str) -> None:
        self.ops = ops
        self.prefix = prefix
        self.path = prefix + "/admin"

    async def __call__(self, request: Request, caller: Caller, by: str) -> Response:
        action = request.scope["path"][len(self.path) :].strip("/")
        if action == "":
            if request.method not in ("GET", "HEAD"):
                return self._status(
                    request, 405, "method_not_allowed", "The console is read by GET."
                )
            outcome = OUTCOMES.get(request.query_params.get("outcome", ""), "")
            return await self._page(caller, by, outcome)
        if action not in ACTIONS:
            return self._status(request, 404, "not_found", "There is no such console action.")
        if request.method != "POST":
            return self._status(request, 405, "method_not_allowed", "Console actions are POSTed.")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if caller.csrf_token and not hmac.compare_digest(
            form.get("csrf_token", ""), caller.csrf_token
        ):
            return self._status(
                request, 403, "csrf", "The form was out of date. Reload the console and try again."
            )
        try:
            status, outcome, text = await self._act(action, form, by)
        except BadRequest as error:
            status, outcome, text = 400, f"bad_{action}", str(error)
        return self._status(request, status, outcome, text)

    async def _page(self, caller: Caller, by: str, message: str) -> Response:
        settings = self.ops.settings
        # The capacity form holds the values in force, also for a browser without script.
        capacity = await self.ops.capacity()
        response = pages.render(
            "admin.html",
            200,
            title=f"Licences · {settings.instance}",
            instance=settings.instance,
            capacity=capacity,
            who=by,
            csrf_token=caller.csrf_token,
            api=self.prefix + "/api",
            console=self.path,
            logout_url=self.prefix + "/logout",
            currency=settings.currency,
            cooldown=settings.named_cooldown,
            harvest_idle=settings.harvest_idle,
            message=message,
        )
        response.headers["Content-Security-Policy"] = CSP
        return response

    async def _act(self, action: str, form: dict[str, str], by: str) -> tuple[int, str, str]:
        """The outcome of a console action: HTTP status, outcome code and the sentence for the
        page's script (which may name the person; the code's sentence never does)."""
        if action == "end":
            ended = await self.ops.end_session(
                form.get("session_id", ""), by=by, person=form.get("person")
            )
            if ended is None:
                return 404, "already_ended", OUTCOMES["already_ended"]
            if ended["licence_held"]:
                left = ended["sessions_left"]
                text = (
                    f"Session ended. {ended['person']} still holds a licence "
                    f"through {left} other session{'s' if left != 1 else ''}."
                )
                return 200, "ended_licence_held", text
            return 200, "ended_licence_free", f"Session ended; {ended['person']}'s licence is free."
        if action == "end_licence":
            person = form.get("person", "")
            done = await self.ops.end_licence(person, by=by)
            if done is None:
                return 404, "no_licence", f"{person} holds no licence."
            count = done["sessions_ended"]
            text = (
                f"{done['person']}'s licence is free: {count} "
                f"session{'s' if count != 1 else ''} ended."
            )
            return 200, "licence_ended", text
        if action == "dequeue":
            person = form.get("person", "")
            if not await self.ops.dequeue(person, by=by):
                return 404, "not_waiting", f"{person} is not waiting in line."
            return 200, "dequeued", f"{person.strip().lower()} was taken out of the line."
        if action == "assign":
            answer = await self.ops.assign(form.get("person", ""), by=by)
            if isinstance(answer, Refused):
                return 409, answer.body["error"], str(answer.body["message"])
            return 200, "assigned", f"{answer['person']}: named seat {answer['outcome']}."
        if action == "unassign":
            person = form.get("person", "")
            if not await self.ops.unassign(person, by=by):
                return 404, "not_named", f"{person} holds no named seat."
            text = f"{person}: seat taken back; it cools down before anyone else takes it."
            return 200, "unassigned", text
        body: dict[str, Any] = {}
        for name in ("concurrent_seats", "named_seats"):
            if value := form.get(name, "").strip():
                body[name] = seat_count_text(name, value)
        for name in ("pool_reserve", "pool_cap"):
            # The form shows the rules in force, so a field sent empty (or "none") removes them.
            if name in form:
                value = form[name].strip()
                body[name] = "" if value.lower() in ("", "none") else value
        result = await self.ops.resize(body, by=by)
        said = []
        if "concurrent_seats" in result:
            said.append(
                f"Now {result['concurrent_seats']} concurrent slots and "
                f"{result['named_seats']} named seats."
            )
        if "pool_reserve" in result:
            said.append(
                f"Reserved for groups: {result['pool_reserve'] or 'none'}; "
                f"group caps: {result['pool_cap'] or 'none'}."
            )
        return 200, "resized", " ".join(said)

    def _status(self, request: Request, status: int, outcome: str, text: str) -> Response:
        if pages.wants_html(request.headers):
            # A form posted without script: back to the console, which shows the outcome's
            # fixed sentence.
            target = f"{self.path}?outcome={outcome}"
            return RedirectResponse(target, status_code=303, headers=pages.NO_STORE)
        if status == 200:
            return JSONResponse({"message": text}, headers=pages.NO_STORE)
        error = outcome if outcome in ("csrf", "not_found", "method_not_allowed") else "refused"
        body = {"error": error, "message": text}
        return JSONResponse(body, status_code=status, headers=pages.NO_STORE)
