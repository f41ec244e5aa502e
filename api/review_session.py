"""A reviewer's session on the inbox page: a signed cookie (HttpOnly, SameSite=Strict) naming
the reviewer, when it ends, and the CSRF token every form of the session carries."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from core.config import Reviewer, Settings

COOKIE = "aijobs_review"
# Before sign-in: the token the sign-in form carries, checked against this cookie.
SIGN_IN_COOKIE = "aijobs_sign_in"
LIFETIME_S = 12 * 3600
PATH = "/inbox"


@dataclass(frozen=True)
class Session:
    reviewer: Reviewer
    csrf: str


def open_session(
    response: Response, request: Request, reviewer: Reviewer, settings: Settings
) -> None:
    payload = {"r": reviewer.name, "exp": int(time.time()) + LIFETIME_S, "csrf": new_token()}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    value = f"{_b64(raw)}.{_b64(_mac(raw, settings))}"
    _set(response, request, COOKIE, value, LIFETIME_S)
    response.delete_cookie(SIGN_IN_COOKIE, path=PATH)


def close_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH)


def current_session(request: Request, settings: Settings) -> Session | None:
    """The session the cookie carries, if it is this deployment's, unexpired, and its
    reviewer (with the same key) is still configured."""
    value = request.cookies.get(COOKIE, "")
    body, _, mac = value.partition(".")
    try:
        raw, given = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError):
        return None
    if not raw or not hmac.compare_digest(given, _mac(raw, settings)):
        return None
    payload = json.loads(raw)
    reviewer = settings.reviewers.get(str(payload.get("r")))
    if reviewer is None or int(payload.get("exp", 0)) < time.time():
        return None
    return Session(reviewer, str(payload["csrf"]))


def sign_in_token(request: Request) -> str:
    """The sign-in form's token: the one its cookie already holds, or a new one."""
    return request.cookies.get(SIGN_IN_COOKIE) or new_token()


def remember_sign_in(response: Response, request: Request, token: str) -> None:
    _set(response, request, SIGN_IN_COOKIE, token, 3600)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        # Over https (behind a proxy that says so, or directly) the cookie never goes out bare.
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
    )


def _mac(raw: bytes, settings: Settings) -> bytes:
    return hmac.new(settings.session_secret, raw, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
