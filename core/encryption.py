"""Payload encryption: everything a job carries is AES-256-GCM ciphertext in Temporal's history.

Every client and worker uses `data_converter(settings)`. The first key of
AIJOBS_ENCRYPTION_KEYS encrypts; each payload names its key id, so every configured key can
still decrypt older runs (rotation without downtime). Payloads that were never encrypted (runs
from before encryption was turned on) pass through unchanged.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from core.config import Settings
from core.redaction import RedactingEncodedFailureConverter, RedactingFailureConverter

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class PayloadNotDecryptable(Exception):
    """A payload names a key this process does not hold, or fails authentication."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("an EncryptionCodec needs at least one key")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._key_id = next(iter(keys))

    @classmethod
    def from_settings(cls, settings: Settings) -> EncryptionCodec | None:
        if not settings.encryption_keys:
            return None
        return cls(
            {k: base64.b64decode(v.get_secret_value()) for k, v in settings.encryption_keys.items()}
        )

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        key_id = self._key_id.encode()
        # The key id is authenticated too: a payload cannot be relabelled to another key.
        sealed = self._ciphers[self._key_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadNotDecryptable(
                f"payload encrypted with key {key_id!r}, which AIJOBS_ENCRYPTION_KEYS lacks"
            )
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadNotDecryptable(
                f"payload under key {key_id!r} failed authentication (tampered, or another "
                "key with the same id)"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter, encrypting when keys are configured. Failures leave redacted
    (core/redaction.py); with keys, their messages and stack traces move into the encrypted
    attributes too, since a model error can quote the prompt."""
    codec = EncryptionCodec.from_settings(settings)
    if codec is None:
        return dataclasses.replace(
            pydantic_data_converter, failure_converter_class=RedactingFailureConverter
        )
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=RedactingEncodedFailureConverter,
    )


def key_fingerprints(settings: Settings) -> dict[str, str]:
    """A fingerprint of each configured key, by id and in order (the first encrypts): an HMAC
    under the key, so the database learns nothing about the key itself."""
    return {
        key_id: hmac.new(
            base64.b64decode(key.get_secret_value()), b"aijobs key fingerprint", hashlib.sha256
        ).hexdigest()[:32]
        for key_id, key in settings.encryption_keys.items()
    }


def deployment_name(settings: Settings) -> str:
    """What shares one set of keys: the processes of one namespace and task queue."""
    return f"{settings.temporal_namespace}/{settings.task_queue}"
