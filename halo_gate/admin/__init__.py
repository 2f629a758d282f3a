"""Administrators' routes. For now the JSON usage figures; the console comes later."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse, Response

from .. import pages
from ..licensing import LicenceEngine, StoreUnavailable


async def usage(engine: LicenceEngine, *, timeout: float) -> Response:
    """``GET /_halo/api/usage``: live named and concurrent figures."""
    try:
        async with asyncio.timeout(timeout):
            figures = await engine.usage()
    except (StoreUnavailable, TimeoutError):
        return pages.store_unavailable(False, retry_url="")
    return JSONResponse(figures.as_json(), headers=pages.NO_STORE)
