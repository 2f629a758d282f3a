"""A FastAPI app behind HaloGate, with a dependency that yields the licensed person.

Run from the repository root, configured by ``HALO_GATE_*`` variables::

    uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from halo_gate import HaloGate, LicensedUser


@dataclass(frozen=True)
class LicensedPerson:
    identity: str
    name: str
    licence: Literal["named", "concurrent"]
    groups: tuple[str, ...]


async def licensed_person(request: Request) -> LicensedPerson:
    """The signed-in, licensed person. HaloGate lets nobody else through; the check guards
    against the app being served without it."""
    user = request.scope.get("user")
    if not isinstance(user, LicensedUser):
        raise HTTPException(status_code=401, detail="login required")
    return LicensedPerson(user.identity, user.display_name, user.licence, user.groups)


Person = Annotated[LicensedPerson, Depends(licensed_person)]

api = FastAPI(title="halo-gate FastAPI example")


@api.get("/", response_class=HTMLResponse)
def home(person: Person) -> str:
    kind = "a named seat" if person.licence == "named" else "a concurrent slot"
    return (
        "<!doctype html><html lang=en><title>Signed in</title><main>"
        f"<h1>Hello, {escape(person.name)}</h1><p>{escape(person.identity)} holds {kind}.</p>"
        "<p><a href=/api/whoami>/api/whoami</a> · <a href=/_halo/logout>Sign out</a></p>"
        "</main></html>"
    )


@api.get("/api/whoami")
def whoami(person: Person) -> LicensedPerson:
    return person


app = HaloGate(api)
