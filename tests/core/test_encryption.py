"""The payload codec: AES-256-GCM, a key id on every payload, rotation, and plain payloads of
older runs passing through."""

from __future__ import annotations

import os

import pytest
from temporalio.api.common.v1 import Payload

from core.encryption import ENCODING, EncryptionCodec, PayloadNotDecryptable

OLD, NEW = os.urandom(32), os.urandom(32)
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"text": "a secret prompt"}')


async def test_a_payload_round_trips_and_holds_no_plain_text() -> None:
    codec = EncryptionCodec({"k1": OLD})
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert b"secret" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [PLAIN]
    # A fresh nonce each time: the same payload never encrypts to the same bytes.
    [again] = await codec.encode([PLAIN])
    assert again.data != sealed.data


async def test_rotation_decrypts_old_payloads_and_encrypts_with_the_first_key() -> None:
    [old] = await EncryptionCodec({"k1": OLD}).encode([PLAIN])
    rotated = EncryptionCodec({"k2": NEW, "k1": OLD})
    assert await rotated.decode([old]) == [PLAIN]
    [new] = await rotated.encode([PLAIN])
    assert new.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(PayloadNotDecryptable, match="key 'k2'"):
        await EncryptionCodec({"k1": OLD}).decode([new])


async def test_tampering_and_relabelling_fail_authentication() -> None:
    codec = EncryptionCodec({"k1": OLD, "k2": NEW})
    [sealed] = await codec.encode([PLAIN])
    flipped = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    with pytest.raises(PayloadNotDecryptable, match="failed authentication"):
        await codec.decode([flipped])
    relabelled = Payload(metadata={**sealed.metadata, "encryption-key-id": b"k2"}, data=sealed.data)
    with pytest.raises(PayloadNotDecryptable, match="failed authentication"):
        await codec.decode([relabelled])


async def test_payloads_from_before_encryption_pass_through() -> None:
    assert await EncryptionCodec({"k1": OLD}).decode([PLAIN]) == [PLAIN]
