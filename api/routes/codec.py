"""The codec server (Temporal's codec-server protocol) for the Web UI and `temporal` CLI: an
operator holding a key of AIJOBS_CODEC_KEYS reads decoded payloads; nobody else does.

The UI runs in a browser on another origin. It sends cookies only with "Include cross-origin
credentials" ticked, so `GET /codec/session` (HTTP Basic, the password being the codec key)
sets a short-lived cookie for it. The CLI sends `Authorization: Bearer <codec key>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from temporalio.api.common.v1 import Payload

from api.deps import SettingsDep
from api.responses import BODY, errors
from core.config import ApiKey, Settings, owner_of
from core.encryption import EncryptionCodec, PayloadNotDecryptable
from core.errors import InvalidInput, NotAuthenticated

router = APIRouter(prefix="/codec", tags=["codec"])

COOKIE = "aijobs_codec"
SESSION_S = 12 * 3600
_MAX_PAYLOADS = 1000


_BASE64 = r"^[A-Za-z0-9+/]*={0,2}$"


class CodecPayload(BaseModel):
    """A Temporal Payload in protobuf's JSON form: bytes as base64."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Annotated[str, Field(pattern=_BASE64)]] = Field(default_factory=dict)
    data: str = Field("", pattern=_BASE64)


class CodecPayloads(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payloads: list[CodecPayload] = Field(default_factory=list, max_length=_MAX_PAYLOADS)


class CodecSession(BaseModel):
    operator: str
    expires_in_s: int


def _mac(key: ApiKey, message: str) -> str:
    return hmac.new(key.digest, message.encode(), hashlib.sha256).hexdigest()


def _session_cookie(operator: str, key: ApiKey, now: float) -> str:
    expires = int(now) + SESSION_S
    return f"{operator}.{expires}.{_mac(key, f'{operator}.{expires}')}"


def _session_operator(cookie: str, settings: Settings, now: float) -> str | None:
    operator, _, rest = cookie.rpartition(".")
    operator, _, expires = operator.rpartition(".")
    if not expires.isdigit() or int(expires) < now:
        return None
    valid = False
    for key in settings.codec_keys.get(operator, ()):
        valid |= hmac.compare_digest(_mac(key, f"{operator}.{expires}"), rest)
    return operator if valid else None


def _presented_key(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password
    return None


async def _operator(request: Request, settings: SettingsDep) -> str:
    """The operator behind a codec request: a codec key, or a session cookie from one."""
    if not settings.codec_keys:
        raise NotAuthenticated("the codec server is off: set AIJOBS_CODEC_KEYS to turn it on")
    presented = _presented_key(request)
    operator = owner_of(presented, settings.codec_keys) if presented else None
    if operator is None and (cookie := request.cookies.get(COOKIE)):
        operator = _session_operator(cookie, settings, time.time())
    if operator is None:
        raise NotAuthenticated(
            "send a codec key (AIJOBS_CODEC_KEYS) as 'Authorization: Bearer <key>', or open "
            "/codec/session in this browser first"
        )
    return operator


Operator = Annotated[str, Depends(_operator)]


def _codec(settings: Settings) -> EncryptionCodec | None:
    return EncryptionCodec.from_settings(settings)


def _payloads(body: CodecPayloads) -> list[Payload]:
    try:
        return [
            Payload(
                metadata={k: base64.b64decode(v, validate=True) for k, v in p.metadata.items()},
                data=base64.b64decode(p.data, validate=True),
            )
            for p in body.payloads
        ]
    except ValueError:  # binascii.Error, or a character base64 never uses
        raise InvalidInput(
            ("body", "payloads"), "metadata values and data must be base64"
        ) from None


def _answer(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


_AUTH_RESPONSES = errors(*BODY, 401, 500)


@router.post("/encode", responses=_AUTH_RESPONSES)
async def encode(body: CodecPayloads, settings: SettingsDep, _: Operator) -> CodecPayloads:
    """Encrypt payloads with the current key (payloads pass through when encryption is off)."""
    codec = _codec(settings)
    payloads = _payloads(body)
    return _answer(await codec.encode(payloads) if codec else payloads)


@router.post("/decode", responses=_AUTH_RESPONSES)
async def decode(body: CodecPayloads, settings: SettingsDep, _: Operator) -> CodecPayloads:
    """Decrypt payloads with whichever configured key sealed each one."""
    codec = _codec(settings)
    payloads = _payloads(body)
    if codec is None:
        return _answer(payloads)
    try:
        return _answer(await codec.decode(payloads))
    except PayloadNotDecryptable as err:
        raise InvalidInput(("body", "payloads"), str(err)) from None


@router.get("/session", responses=errors(401, 500))
async def session(request: Request, response: Response, settings: SettingsDep) -> CodecSession:
    """Open in a browser and answer the password prompt with a codec key (any user name): the
    Web UI may then decode for 12 hours, with "Include cross-origin credentials" ticked in its
    codec settings."""
    presented = _presented_key(request)
    operator = owner_of(presented, settings.codec_keys) if presented else None
    if operator is None or presented is None:
        raise NotAuthenticated(
            "give a codec key (AIJOBS_CODEC_KEYS) as the password",
            challenge='Basic realm="aijobs codec", charset="UTF-8"',
        )
    key = next(k for k in settings.codec_keys[operator] if k.matches(presented))
    cross_site = settings.ui_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        _session_cookie(operator, key, time.time()),
        max_age=SESSION_S,
        path="/codec",
        httponly=True,
        # A UI on another site (Temporal Cloud) needs None, which browsers allow only with
        # Secure; a local UI is the same site as the API (ports do not count), so Lax does.
        samesite="none" if cross_site else "lax",
        secure=cross_site,
    )
    return CodecSession(operator=operator, expires_in_s=SESSION_S)
