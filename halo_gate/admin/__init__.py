"""The administrators' side: the console, the JSON API, the metrics and the CLI commands.

It calls the licence engine and nothing of the middleware: the gateway's routes hand it each
request under ``/_halo/admin``, ``/_halo/api/`` and ``/_halo/metrics`` with a ``Caller`` saying
who sent it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import pages
from ..config import Settings
from ..licensing import LicenceEngine, StoreUnavailable
from ..licensing.guard import StoreGuard
from .api import AdminAPI
from .auth import Caller, bad_token, bearer, refuse, token_matches
from .console import Console
from .metrics import Metrics
from .operations import Operations
from .recommend import Recommender

__all__ = ["Administration", "Caller", "bearer"]

TOKEN_USER = "api-token"


class Administration:
    """Everything under the administrators' paths, for one gateway."""

    def __init__(self, engine: LicenceEngine, settings: Settings, *, guard: StoreGuard) -> None:
        self.settings = settings
        prefix = settings.path_prefix
        self.ops = Operations(engine, settings)
        self.recommender = Recommender(engine, settings)
        self.api = AdminAPI(
            self.ops,
            self.recommender,
            guard=guard,
            prefix=prefix,
            cookie_name=settings.cookie_name,
        )
        self.metrics = Metrics(engine)
        self.console = Console(self.ops, prefix)
        self.guard = guard
        self._api_prefix = prefix + "/api/"
        self._console = prefix + "/admin"
        self._metrics = prefix + "/metrics"

    def owns(self, path: str) -> bool:
        return (
            path.startswith(self._api_prefix)
            or path == self._console
            or path.startswith(self._console + "/")
            or path == self._metrics
        )

    def token_admin(self, request: Request) -> bool:
        """Whether the request carries ``HALO_GATE_ADMIN_TOKEN``: an API client, not a browser,
        so the same-origin check for state changes does not apply to it."""
        return self.owns(request.scope["path"]) and token_matches(
            bearer(request.headers), self.settings.admin_token
        )

    async def handle(self, request: Request, caller: Caller) -> Response:
        path = request.scope["path"]
        html = pages.wants_html(request.headers)
        given = bearer(request.headers)
        if given is not None:
            if token_matches(given, self.settings.admin_token):
                by = TOKEN_USER
            elif path == self._metrics and token_matches(given, self.settings.metrics_token):
                by = TOKEN_USER
            else:
                return bad_token(html)
        elif caller.admin and caller.person is not None:
            by = caller.person
        else:
            return refuse(caller, html)
        if path.startswith(self._api_prefix):
            return await self.api(request, path[len(self._api_prefix) :], by)
        if path == self._metrics:
            return await self._scrape()
        if path == self._console or path.startswith(self._console + "/"):
            return await self._console_call(request, caller, by)
        return pages.error(html, 404, "not_found", "Not found", "There is no such page.", [])

    async def _scrape(self) -> Response:
        try:
            return await self.guard.call(self.metrics.response)
        except StoreUnavailable:
            return pages.store_unavailable(False, retry_url="")

    async def _console_call(self, request: Request, caller: Caller, by: str) -> Response:
        try:
            return await self.guard.call(lambda: self.console(request, caller, by))
        except StoreUnavailable:
            return pages.store_unavailable(
                pages.wants_html(request.headers), retry_url=self._console
            )
