"""Temporal's page tokens, signed for one owner: a forged or borrowed token is refused here,
not sent to the server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from core.config import Settings
from core.errors import InvalidInput

_MAC_BYTES = 16


def sign(token: bytes, owner: str, settings: Settings) -> str:
    return base64.urlsafe_b64encode(_mac(token, owner, settings) + token).decode()


def unsign(page_token: str | None, owner: str, settings: Settings) -> bytes | None:
    """The token, or None for the first page; InvalidInput (422) for one not issued here."""
    if not page_token:
        return None
    try:
        raw = base64.urlsafe_b64decode(page_token.encode())
    except (binascii.Error, ValueError):
        raise _bad_page_token() from None
    mac, token = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if not token or not hmac.compare_digest(mac, _mac(token, owner, settings)):
        raise _bad_page_token()
    return token


def _mac(token: bytes, owner: str, settings: Settings) -> bytes:
    # Keyed by the owner's name and the configured keys: a token works for its owner only.
    key = owner.encode() + b"\0" + settings.page_token_secret
    return hmac.new(key, token, hashlib.sha256).digest()[:_MAC_BYTES]


def _bad_page_token() -> InvalidInput:
    return InvalidInput(("query", "page_token"), "page_token is not one this API issued")
