"""Who is asking, for the administrators' routes: an administrator (by session cookie or by
``HALO_GATE_ADMIN_TOKEN``), someone else (403) or nobody signed in (login)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.datastructures import Secret as SecretValue
from starlette.responses import Response

from .. import pages


@dataclass(frozen=True, slots=True)
class Caller:
    """What the gateway knows of the request's sender, from its session cookie."""

    person: str | None  # None: not signed in (or the session has ended)
    admin: bool
    csrf_token: str  # the token this session's forms must carry; "" without a session
    login_url: str
    navigation: bool  # a browser loading a page


def bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_matches(given: str | None, configured: SecretValue | None) -> bool:
    return (
        given is not None
        and configured is not None
        and hmac.compare_digest(given.encode(), str(configured).encode())
    )


def refuse(caller: Caller, html: bool) -> Response:
    """The answer for anyone but an administrator."""
    if caller.person is None:
        return pages.login_required(caller.navigation, caller.login_url)
    return pages.error(
        html,
        403,
        "forbidden",
        "Administrators only",
        "This page is for administrators.",
        [("Home", "/")],
    )


def bad_token(html: bool) -> Response:
    return pages.error(
        html,
        401,
        "bad_token",
        "Not signed in",
        "The bearer token was not accepted.",
        [("Home", "/")],
    )
