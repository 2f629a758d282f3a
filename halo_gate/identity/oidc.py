"""OpenID Connect login: the only module that imports authlib.

authlib does discovery, the authorization URL (PKCE S256, state, nonce), the code exchange,
the ID token's signature and claims (issuer, audience, expiry, nonce), userinfo and the
RP-initiated logout URL. This module keeps the login transaction in a short-lived signed
cookie and turns every failure into ``LoginFailed`` with a message that is safe to show.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Settings
from .claims import email_unverified

logger = logging.getLogger("halo_gate.identity.oidc")

# A login that takes longer than this at the IdP starts again.
TRANSACTION_MAX_AGE = 600
# Logins started in other tabs of the same browser that stay valid.
TRANSACTIONS_KEPT = 3

# What the person is told for the IdP's error codes (RFC 6749 4.1.2.1, OpenID Connect 3.1.2.6).
# The IdP's own error_description is logged, never shown: anyone can put text in that query
# parameter and have it appear on this site's page.
IDP_ERRORS = {
    "access_denied": "The sign-in was cancelled or refused at the identity provider.",
    "login_required": "The identity provider needs you to sign in there first.",
    "interaction_required": "The identity provider needs you to complete a step there first.",
    "consent_required": "The identity provider needs your consent first.",
    "temporarily_unavailable": "The identity provider is busy just now. Please try again.",
    "server_error": "The identity provider had an error. Please try again.",
}
IDP_ERROR_OTHER = "The identity provider refused the sign-in."

SpendState = Callable[[str], Awaitable[bool]]


class LoginFailed(Exception):
    """The login did not complete; ``str()`` is a sentence for the person, without secrets."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Identity:
    person: str
    groups: tuple[str, ...]
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoginStart:
    url: str
    transaction: str  # the value of the transaction cookie


class OIDCClient:
    """One identity provider, as the settings name it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        registry = OAuth()
        self._app: Any = registry.register(
            name="idp",
            client_id=settings.oidc_client_id,
            client_secret=str(settings.oidc_client_secret),
            server_metadata_url=settings.oidc_issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
        )
        self._transactions = URLSafeTimedSerializer(settings.signing_keys[::-1], salt="halo-login")

    async def _metadata(self) -> dict[str, Any]:
        """The IdP's discovery document, with the ID token algorithms pinned to the settings'.

        authlib verifies an ID token with whatever algorithms discovery lists, "none" included;
        the document is loaded once and kept, so pinning it here holds for every later check."""
        metadata: dict[str, Any] = await self._app.load_server_metadata()
        metadata["id_token_signing_alg_values_supported"] = list(
            self.settings.oidc_id_token_algorithms
        )
        return metadata

    async def start(self, redirect_uri: str, next_path: str, earlier: str | None) -> LoginStart:
        """The IdP's authorization URL and the transaction cookie that remembers this login."""
        try:
            metadata = await self._metadata()
            created = await self._app.create_authorization_url(redirect_uri)
        except Exception as error:
            logger.warning("identity provider unreachable at login: %s", type(error).__name__)
            raise LoginFailed("The identity provider could not be reached.", status=502) from None
        if str(metadata.get("issuer", "")).rstrip("/") != self.settings.oidc_issuer:
            # OpenID Connect Discovery 1.0, section 4.3: the issuer must be the one configured.
            logger.warning("discovery names issuer %r", metadata.get("issuer"))
            raise LoginFailed("The identity provider's configuration is not valid.", status=502)
        transaction = {
            "state": created["state"],
            "nonce": created["nonce"],
            "verifier": created["code_verifier"],
            "next": next_path,
            "redirect_uri": redirect_uri,
        }
        pending = [transaction, *self._pending(earlier)][:TRANSACTIONS_KEPT]
        return LoginStart(url=str(created["url"]), transaction=self._transactions.dumps(pending))

    def _pending(self, value: str | None) -> list[dict[str, str]]:
        if not value:
            return []
        try:
            pending = self._transactions.loads(value, max_age=TRANSACTION_MAX_AGE)
        except BadSignature:
            return []
        return [item for item in pending if isinstance(item, dict)]

    async def finish(
        self, params: dict[str, str], transaction: str | None, spend: SpendState
    ) -> tuple[Identity, str]:
        """Check the callback's parameters and the tokens; the person and the ``next`` path.

        ``spend`` marks the sign-in's state as used and says whether it was still unused."""
        if "error" in params:
            logger.info(
                "identity provider refused the sign-in: %r %r",
                params["error"][:60],
                params.get("error_description", "")[:300],
            )
            raise LoginFailed(IDP_ERRORS.get(params["error"], IDP_ERROR_OTHER))
        state, code = params.get("state"), params.get("code")
        if not state or not code:
            raise LoginFailed("The sign-in response is missing its state or code.")
        match = next((t for t in self._pending(transaction) if t.get("state") == state), None)
        if match is None or not await spend(state):
            raise LoginFailed(
                "This sign-in response does not match a sign-in started here, or was used "
                "already. Please sign in again."
            )
        try:
            token = await self._app.fetch_access_token(
                redirect_uri=match["redirect_uri"], code=code, code_verifier=match["verifier"]
            )
            metadata = await self._metadata()
            claims = dict(await self._app.parse_id_token(token, nonce=match["nonce"]))
            if metadata.get("userinfo_endpoint"):
                # Many IdPs send email and groups only from userinfo.
                info = dict(await self._app.userinfo(token=token))
                if info.get("sub") != claims.get("sub"):
                    raise LoginFailed("The identity provider's userinfo names another subject.")
                claims = {**claims, **info}
        except LoginFailed:
            raise
        except OAuthError as error:
            logger.info("token exchange refused: %s", error.error)
            raise LoginFailed(
                "The identity provider refused the sign-in code (it may have been used "
                "already). Please sign in again."
            ) from None
        except Exception as error:
            logger.warning("sign-in failed: %s: %s", type(error).__name__, error)
            raise LoginFailed("The identity provider's answer could not be verified.") from None
        return self._identity(claims), match["next"]

    def _identity(self, claims: dict[str, Any]) -> Identity:
        settings = self.settings
        value = claims.get(settings.user_claim)
        if not isinstance(value, str) or not value.strip():
            raise LoginFailed(
                f"The identity provider did not send the claim {settings.user_claim!r}."
            )
        # Only JSON true: an absent, null, "false" or "False" claim is no verification, and an
        # unverified address may be anybody's, an administrator's or a named seat holder's.
        if (
            settings.user_claim == "email"
            and settings.require_verified_email
            and email_unverified(claims)
        ):
            raise LoginFailed("Your e-mail address is not verified.", status=403)
        groups = claims.get(settings.groups_claim)
        if groups is None:
            groups = []
        elif isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            logger.warning("claim %r is not a list of names", settings.groups_claim)
            raise LoginFailed(
                f"The identity provider sent a malformed {settings.groups_claim!r} claim."
            )
        return Identity(person=value.strip().lower(), groups=tuple(groups), claims=claims)

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout at the IdP, when its metadata offers an end-session endpoint."""
        try:
            metadata = await self._metadata()
            if not metadata.get("end_session_endpoint"):
                return None
            created = await self._app.create_logout_url(
                post_logout_redirect_uri=post_logout_redirect_uri,
                client_id=self.settings.oidc_client_id,
            )
        except Exception as error:
            logger.warning("identity provider unreachable at logout: %s", type(error).__name__)
            return None
        return str(created["url"])
