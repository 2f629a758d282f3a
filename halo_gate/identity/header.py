"""``HALO_GATE_IDENTITY=header``: the person from headers set by a trusted proxy.

Fails closed: the headers are believed only from a direct peer (``scope["client"]``, never
``X-Forwarded-For``) inside ``HALO_GATE_TRUSTED_PROXIES``. A name that differs from a configured
one only by ``_`` for ``-``, or a repeated header, is refused rather than guessed at: servers
and proxies disagree on which copy wins and whether ``_`` is ``-``, which is how a client slips
its own value past a proxy that strips only the exact name (CVE-2025-64484 in oauth2-proxy).
The identity headers are removed before the application sees the request, whoever sent them.

The peer address is only the proxy's if the application server leaves it alone: uvicorn (and
gunicorn) replace it with the ``X-Forwarded-For`` sent by the peers in ``--forwarded-allow-ips``
(``FORWARDED_ALLOW_IPS``; 127.0.0.1 and ::1 by default). Startup warns when that may happen.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Container, Mapping, Sequence

from starlette.types import ASGIApp, Scope

from ..config import Settings
from . import Person, Refused, Unnamed, person_of

logger = logging.getLogger("halo_gate.identity")

TRUST_KEPT = 1024


def forwarded_for_risk(
    argv: Sequence[str], environ: Mapping[str, str], modules: Container[str]
) -> str | None:
    """Why the application server may replace the peer address with ``X-Forwarded-For``
    (judged from its command line, environment and loaded modules), or None."""
    if "--no-proxy-headers" in argv:
        return None
    allowed = environ.get("FORWARDED_ALLOW_IPS")
    if allowed is not None:
        if not allowed.strip():
            return None  # no address is trusted to set it
        return (
            f"FORWARDED_ALLOW_IPS is {allowed!r}: uvicorn and gunicorn replace it with the "
            "X-Forwarded-For sent by those addresses"
        )
    if "uvicorn" in modules:
        return (
            "uvicorn replaces it with the X-Forwarded-For sent by 127.0.0.1 and ::1 (its "
            "--forwarded-allow-ips default)"
        )
    return None


class HeaderSource:
    unnamed: Unnamed = "unidentified"

    def __init__(self, settings: Settings) -> None:
        self._networks = [ipaddress.ip_network(item) for item in settings.trusted_proxies]
        self._user = settings.user_header.lower().encode("latin-1")
        self._groups = settings.groups_header.lower().encode("latin-1")
        self._trusted: dict[str, bool] = {}
        risk = forwarded_for_risk(sys.argv, os.environ, sys.modules)
        if risk is not None:
            logger.warning(
                "HALO_GATE_IDENTITY=header trusts the identity headers by the peer address, but "
                "%s. Run the application server with --no-proxy-headers (halo-gate serve does).",
                risk,
            )

    def _is_trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client:
            return False  # a Unix socket or a test transport: no peer address to judge
        host = str(client[0])
        known = self._trusted.get(host)
        if known is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self._networks)
            if len(self._trusted) >= TRUST_KEPT:
                self._trusted.clear()
            self._trusted[host] = known
        return known

    async def identify(self, scope: Scope) -> Person | None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        found: dict[bytes, bytes] = {}
        variant = repeated = False
        kept = []
        for name, value in headers:
            canonical = name.lower().replace(b"_", b"-")
            if canonical == self._user or canonical == self._groups:
                variant = variant or name.lower() != canonical
                repeated = repeated or canonical in found
                found[canonical] = value
            else:
                kept.append((name, value))
        if not found:
            return None
        scope["headers"] = kept
        if not self._is_trusted(scope):
            raise Refused(f"identity header from untrusted peer {scope.get('client')!r}")
        if variant or repeated:
            raise Refused("identity header repeated or named with '_' for '-'")
        raw = found.get(self._user)
        if raw is None:
            return None
        try:
            person = person_of(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise Refused("identity header is not UTF-8") from None
        if not person:
            return None
        groups = found.get(self._groups, b"").decode("utf-8", "replace").split(",")
        return Person(person, tuple(group.strip() for group in groups if group.strip()))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return app
