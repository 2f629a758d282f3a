"""The keys a ``jwt`` assertion is checked with, fetched from the proxy's key URL.

Two forms. A JWKS document (Pomerium, Cloudflare Access, IAP) holds every key: it is fetched at
first use, when an hour old, and again when a token names an unknown ``kid``, at most once a
minute, so a rotated key is picked up without a restart.

A URL with ``{kid}`` (AWS's load balancer) serves one PEM key per key id, which never changes.
Each id is judged on its own, so tokens naming random ids cannot spend the fetches a real new
key needs: a fetched key is kept; an id is fetched at most once a minute (an id with no key is
remembered as such, one whose fetch failed is tried again after a few seconds); at most
``FETCHES_AT_ONCE`` ids are fetched at the same time (beyond that the answer is 503); and only ids
of letters, digits, ``.``, ``_`` and ``-`` that are not all dots are put in the URL, so no id
names another path (``..`` would fetch the parent: ``…/keys/..`` is ``…/``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from typing import Any

import httpx2
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey, import_key

from . import Refused, SourceUnavailable

logger = logging.getLogger("halo_gate.identity")

REFETCH_AFTER = 60.0  # at most one fetch a minute for an unknown key id
KEYS_MAX_AGE = 3600.0  # keys dropped from a JWKS document stop being trusted within this time
RETRY_AFTER_ERROR = 5.0  # a key id whose fetch failed (not "no such key") is tried again after
FETCH_TIMEOUT = 5.0
FETCHES_AT_ONCE = 8
IDS_KEPT = 4096  # key ids remembered as tried (the oldest are forgotten first)
ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})
# A key id that may go into a URL: no "/", "\" or "%", and not "." or ".." (a dot segment).
SAFE_KID = re.compile(r"(?!\.+\Z)[A-Za-z0-9._-]{1,128}")
PEM_KINDS = (ECKey, RSAKey, OKPKey)


def _client(tls: ssl.SSLContext) -> httpx2.AsyncClient:
    # The TLS context is made once: loading the CA bundle for every client costs tens of
    # milliseconds of the worker's event loop, per fetch.
    return httpx2.AsyncClient(timeout=FETCH_TIMEOUT, verify=tls)


class JWKSKeys:
    """The keys of a JWKS document."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._tls = httpx2.create_ssl_context()
        self._keys = KeySet([])
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def for_token(self, header: dict[str, Any], now: float) -> KeySet:
        """The keys to check a token with, fetched first when there are none or they are old."""
        if self._fetched_at is None or now - self._fetched_at >= KEYS_MAX_AGE:
            await self._fetch(now)
        return self._keys

    async def after_unknown_kid(self, header: dict[str, Any], now: float) -> KeySet | None:
        """Fresh keys for a token whose ``kid`` was not among them, or None when they were
        fetched less than a minute ago."""
        if self._fetched_at is not None and now - self._fetched_at < REFETCH_AFTER:
            return None
        await self._fetch(now)
        return self._keys

    async def _fetch(self, now: float) -> None:
        async with self._lock:
            if self._fetched_at is not None and self._fetched_at >= now:
                return  # another request fetched them meanwhile
            self._fetched_at = now
            try:
                async with _client(self._tls) as client:
                    response = await client.get(self._url)
                    response.raise_for_status()
                keys = [
                    import_key(item)
                    for item in response.json().get("keys", [])
                    if isinstance(item, dict) and item.get("kty") in ASYMMETRIC
                ]
            except (httpx2.HTTPError, ValueError, AttributeError, JoseError) as error:
                logger.warning("JWKS at %s not usable: %s", self._url, type(error).__name__)
                if not self._keys.keys:
                    self._fetched_at = None  # nothing to verify with: try again next time
                    raise SourceUnavailable("the proxy's keys could not be fetched") from None
                return  # keep the keys we have
            self._keys = KeySet(keys)


class PerKidKeys:
    """One PEM key per key id, at a URL with ``{kid}``."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._tls = httpx2.create_ssl_context()
        self._found: dict[str, ECKey | RSAKey | OKPKey] = {}
        self._keys = KeySet([])
        self._retry_at: dict[str, float] = {}  # key id -> when it may be fetched again
        self._fetching: dict[str, asyncio.Task[bool]] = {}
        self._warned_at: float | None = None

    async def for_token(self, header: dict[str, Any], now: float) -> KeySet:
        """The keys to check a token with, its own key fetched first if it may be."""
        kid = header.get("kid")
        if not (isinstance(kid, str) and SAFE_KID.fullmatch(kid)):
            raise Refused("assertion names a key id that is not fetched")
        if kid in self._found:
            return self._keys
        fetching = self._fetching.get(kid)
        if fetching is None:
            if now < self._retry_at.get(kid, now):
                return self._keys  # tried lately: the token is refused for its kid
            if len(self._fetching) >= FETCHES_AT_ONCE:
                raise SourceUnavailable("too many of the proxy's keys are being fetched")
            fetching = self._fetching[kid] = asyncio.create_task(self._fetch(kid, now))
            fetching.add_done_callback(lambda _: self._fetching.pop(kid, None))
        if not await asyncio.shield(fetching):
            raise SourceUnavailable("the proxy's key could not be fetched")
        return self._keys

    async def after_unknown_kid(self, header: dict[str, Any], now: float) -> KeySet | None:
        return None  # the token's own key was asked for already

    async def _fetch(self, kid: str, now: float) -> bool:
        """Fetch ``kid``'s key; False when the endpoint failed (not when it has no such key)."""
        try:
            async with _client(self._tls) as client:
                response = await client.get(self._url.replace("{kid}", kid))
            if response.status_code == 404:
                self._remember(kid, now + REFETCH_AFTER)
                return True  # no such key: the token is refused for its kid
            response.raise_for_status()
            key = _pem_key(response.text, kid)
        except (httpx2.HTTPError, ValueError) as error:
            self._remember(kid, now + RETRY_AFTER_ERROR)
            if self._warned_at is None or now - self._warned_at >= REFETCH_AFTER:
                self._warned_at = now
                logger.warning("key at %s not usable: %s", self._url, type(error).__name__)
            return False
        self._found[kid] = key
        self._keys = KeySet(list(self._found.values()))
        return True

    def _remember(self, kid: str, retry_at: float) -> None:
        self._retry_at.pop(kid, None)
        while len(self._retry_at) >= IDS_KEPT:
            del self._retry_at[next(iter(self._retry_at))]
        self._retry_at[kid] = retry_at


def _pem_key(text: str, kid: str) -> ECKey | RSAKey | OKPKey:
    """The public key in PEM ``text``, of whichever type it is."""
    for kind in PEM_KINDS:
        try:
            return kind.import_key(text, {"kid": kid})
        except (ValueError, TypeError, JoseError):
            continue
    raise ValueError("not a PEM public key")
