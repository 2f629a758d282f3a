"""The demo: a built-in identity provider and a small app behind HaloGate, in one command.

``halo-gate demo`` starts both with the embedded store and small numbers (one named seat, two
concurrent slots, a two-minute idle timeout) and prints which identities show what.

The identity provider is ``oidc-provider-mock``: a real OpenID Connect provider (discovery, the
authorization code flow, signed ID tokens, nonce, userinfo, RP-initiated logout) served by werkzeug
in a process of its own. It accepts PKCE parameters but does not check the ``code_verifier``
(version 0.3.4 has no RFC 7636 support), so PKCE itself is proven by the client side's own tests.
Tests use it the same way the demo does::

    with start_identity_provider() as idp:
        idp.set_user("alice@example.com", email="alice@example.com", email_verified=True)
        # configure HaloGate with idp.issuer, idp.client_id, idp.client_secret

How a test drives the provider's login form, as a browser does:

1. ``GET /_halo/login`` on the gateway answers 302 to the provider's authorization endpoint
   (``{issuer}/oauth2/authorize?client_id=...&redirect_uri=...&code_challenge=...&state=...``).
2. ``GET`` that URL: an HTML form in which the person's ``sub`` is typed (known people also appear
   as buttons). Skipping this step is fine: the form posts back to the same URL.
3. ``POST`` the same URL, query string included, with the form body ``sub=<the person's sub>``.
   The provider answers 302 to ``redirect_uri?code=...&state=...``; posting ``action=deny`` instead
   answers 302 with ``error=access_denied``.
4. ``GET`` that redirect on the gateway: the callback exchanges the code, admits the person and
   sets the session cookie.

A ``sub`` the provider has never seen signs in with only ``{"email": sub}`` as claims; call
``set_user`` first to give a person ``email_verified``, ``name``, ``groups`` or anything else.
Logout ends at ``{issuer}/oauth2/end_session``, a page whose form posts to
``{issuer}/oauth2/end_session/confirm`` and then redirects to ``post_logout_redirect_uri``.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from ..gateway.entry import HaloGate
from .seed import seed_record

LOCALHOST = "127.0.0.1"
DEMO_CLIENT_ID = "halo-gate-demo"
_SERVE_IDENTITY_PROVIDER = "serve-identity-provider"  # the argument that runs the provider


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True)
class Person:
    """Someone who can sign in at the built-in identity provider."""

    email: str
    name: str
    groups: tuple[str, ...] = ()

    def claims(self) -> dict[str, object]:
        return {
            "email": self.email,
            "email_verified": True,
            "name": self.name,
            "groups": list(self.groups),
        }


@dataclass
class IdentityProvider:
    """A running OpenID Connect provider; stop it with ``stop()`` or by leaving the ``with``."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    _process: subprocess.Popen[str] = field(repr=False)

    def set_user(self, sub: str, **claims: Any) -> None:
        """Create or replace the person ``sub`` with exactly these claims (``sub`` is added)."""
        request = urllib.request.Request(
            f"{self.issuer}/users/{urllib.parse.quote(sub, safe='')}",
            data=json.dumps(claims).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 204:
                raise RuntimeError(f"The identity provider refused user {sub!r}.")

    def stop(self) -> None:
        """Stop the provider and wait until its port is closed."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()  # end of input is the provider's signal to shut down
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> IdentityProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_identity_provider(
    port: int = 0,
    *,
    host: str = LOCALHOST,
    people: Iterable[Person] = (),
    require_nonce: bool = True,
) -> IdentityProvider:
    """Start an OpenID Connect provider on ``host:port`` (0: a free port) and wait until it listens.

    The issuer is ``http://host:port`` with discovery at ``/.well-known/openid-configuration``. Any
    client id and secret are accepted, so the returned ones are simply the ones to configure.
    ``people`` are known from the start and shown as one-click buttons on the login form.

    The provider runs in a process of its own: it is a Flask app whose dependencies warn about
    deprecations, and a test run that turns warnings into errors must not break it.
    """
    settings = {
        "host": host,
        "port": port,
        "require_nonce": require_nonce,
        "people": [person.claims() for person in people],
    }
    process = subprocess.Popen(
        [sys.executable, "-m", __name__, _SERVE_IDENTITY_PROVIDER, json.dumps(settings)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    issuer = process.stdout.readline().strip()
    if not issuer.startswith("http://"):
        process.kill()
        process.wait()
        process.stdout.close()
        raise RuntimeError(f"The identity provider did not start on {host}:{port}.")
    return IdentityProvider(
        issuer=issuer,
        client_id=DEMO_CLIENT_ID,
        client_secret=secrets.token_urlsafe(24),
        _process=process,
    )


def _serve_identity_provider(settings: dict[str, Any]) -> None:
    """The provider's own process: prints its issuer, then serves until its input ends."""
    # The provider's dependencies warn about their own deprecations, also while serving, and
    # authlib installs an "always" filter for its warnings: this process shows none.
    warnings.showwarning = _ignore_warning
    import werkzeug.serving
    from oidc_provider_mock import User, app

    class QuietRequestHandler(werkzeug.serving.WSGIRequestHandler):
        """Drops the access log line of every request; errors are still logged."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    wsgi_app = app(
        require_nonce=settings["require_nonce"],
        user_claims=[User(sub=claims["email"], claims=claims) for claims in settings["people"]],
    )
    server = werkzeug.serving.make_server(
        settings["host"],
        settings["port"],
        wsgi_app,
        threaded=True,
        request_handler=QuietRequestHandler,
    )

    def shut_down_at_end_of_input() -> None:
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=shut_down_at_end_of_input, daemon=True).start()
    print(http_url(settings["host"], server.server_port), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass  # Ctrl-C in the demo's terminal reaches this process too
    finally:
        server.server_close()


DEMO_PEOPLE = (
    Person("alice@example.com", "Alice Agent", ("service-desk",)),
    Person("bob@example.com", "Bob Hr", ("hr",)),
    Person("carol@example.com", "Carol Finance", ("finance",)),
    Person("dave@example.com", "Dave Portal", ("portal",)),
)
DEMO_NAMED = "alice@example.com"
DEMO_CONCURRENT_SEATS = 2
DEMO_IDLE_TIMEOUT = 120
DEMO_HEARTBEAT_INTERVAL = 15
DEMO_SEEDED_DAYS = 21

DEMO_GUIDE = f"""\
Sign in at the login page by clicking an identity. Use a separate browser profile or private
window for each person, since one browser holds one session.

  Named access:   {DEMO_NAMED} holds the named seat: always admitted, from any device,
                  even while the pool is full. Alice is also the administrator
                  (the console at /_halo/admin).
  A full pool:    bob@example.com and carol@example.com take the {DEMO_CONCURRENT_SEATS} concurrent
                  slots; dave@example.com then waits in line (503: his place and
                  an estimated wait).
  A slot back:    log Bob out (/_halo/logout); Dave's waiting page then lets him in.
                  Or close Bob's window: idle, his slot frees within {DEMO_IDLE_TIMEOUT} s.
  The console:    Alice sees who holds a licence and from which device, the line, the
                  audit log, and the cost at the guide's prices (named 70, concurrent 140,
                  named-only 100 GBP a month) with the split recommended from
                  {DEMO_SEEDED_DAYS} days of simulated use of a 500-person organisation.
"""


async def _demo_home(request: Request) -> HTMLResponse:
    user = request.user
    kind = "the named seat" if user.licence == "named" else "a concurrent slot"
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<title>halo-gate demo</title>"
        "<main style='max-width:40rem;margin:auto;font-family:system-ui,sans-serif'>"
        f"<h1>Signed in as {escape(user.display_name)}</h1>"
        f"<p><b>{escape(user.identity)}</b> holds {kind}.</p>"
        "<p><a href=/api/whoami>/api/whoami</a> · <a href=/_halo/me>/_halo/me</a> · "
        "<a href=/_halo/logout>Sign out</a></p>"
        f"<h2>Try this</h2><pre style='white-space:pre-wrap'>{escape(DEMO_GUIDE)}</pre>"
        "</main></html>"
    )


async def _demo_whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {"user": user.identity, "licence": user.licence, "groups": list(user.groups)}
    )


def build_demo_app(idp: IdentityProvider, *, seed: bool = True) -> HaloGate:
    """The demo's app behind HaloGate, signing in at ``idp``, with the embedded store, the
    guide's prices and (``seed``) a few weeks of simulated recorded use."""
    gates: list[HaloGate] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if seed:
            await seed_record(gates[0].engine, days=DEMO_SEEDED_DAYS, retention_days=30)
        yield

    app = Starlette(
        routes=[Route("/", _demo_home), Route("/api/whoami", _demo_whoami)], lifespan=lifespan
    )
    gate = HaloGate(
        app,
        oidc_issuer=idp.issuer,
        oidc_client_id=idp.client_id,
        oidc_client_secret=idp.client_secret,
        # Fresh on every run: sessions of an earlier run must not outlive its embedded store.
        secret_key=secrets.token_urlsafe(32),
        redis_url=None,
        instance="demo",
        named_seats=1,
        named_users=DEMO_NAMED,
        concurrent_seats=DEMO_CONCURRENT_SEATS,
        idle_timeout=DEMO_IDLE_TIMEOUT,
        heartbeat_interval=DEMO_HEARTBEAT_INTERVAL,
        admins=DEMO_NAMED,
        cookie_secure=False,
        # The guide's prices, per person or slot and month, so the cost panel has figures.
        price_named=70,
        price_concurrent=140,
        price_named_only=100,
        currency="GBP",
    )
    gates.append(gate)
    return gate


def run_demo(host: str = LOCALHOST, port: int = 8000) -> int:
    """Serve the demo until interrupted; the port may be 0 for any free one."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(2048)  # connections wait in the backlog until uvicorn serves them
    except OSError as error:
        print(f"halo-gate demo: cannot listen on {host}:{port}: {error.strerror}.", file=sys.stderr)
        return 1
    url = http_url(host, listener.getsockname()[1])
    with start_identity_provider(host=host, people=DEMO_PEOPLE) as idp:
        app = build_demo_app(idp)
        print(f"halo-gate demo: open {url}/\n", flush=True)
        print(f"Identity provider: {idp.issuer}", flush=True)
        print(DEMO_GUIDE, flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        try:
            uvicorn.Server(config).run(sockets=[listener])
        except KeyboardInterrupt:
            pass  # uvicorn shuts down gracefully, then re-raises Ctrl-C
    return 0


def _ignore_warning(*args: object, **kwargs: object) -> None:
    pass


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == _SERVE_IDENTITY_PROVIDER:
        _serve_identity_provider(json.loads(sys.argv[2]))
