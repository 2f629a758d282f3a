"""What a set of claims says about the person's e-mail address: one rule for every source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def email_unverified(claims: Mapping[str, Any], *, silent_ok: bool = False) -> bool:
    """Whether ``claims`` fail to show a verified e-mail address.

    Only JSON ``true`` in ``email_verified`` verifies it: ``false``, ``null``, ``"true"``,
    ``"False"`` and ``1`` do not, since an unverified address may be anybody's, an
    administrator's or a named seat holder's. Claims that do not mention it are unverified too,
    unless ``silent_ok``: an identity-aware proxy's assertion, whose own sign-in checked the
    address and whose format has no such claim (Cloudflare Access, IAP, Pomerium).
    """
    if "email_verified" not in claims:
        return not silent_ok
    return claims["email_verified"] is not True
