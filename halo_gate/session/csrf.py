"""The token an HTML form of the gateway carries: the session id, signed (itsdangerous), so a
form posted from another site, which cannot read it, is refused."""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadSignature, Signer


class CsrfTokens:
    def __init__(self, keys: Sequence[str]) -> None:
        # itsdangerous signs with the last key of the list; our first configured key signs.
        self._signer = Signer(list(reversed(keys)), salt="halo-csrf")

    def token(self, session_id: str) -> str:
        return self._signer.sign(session_id).decode()

    def valid(self, token: str, session_id: str) -> bool:
        try:
            return self._signer.unsign(token) == session_id.encode()
        except BadSignature:
            return False
