"""The key check at start: what a deployment's processes must share, rotation included."""

from __future__ import annotations

import uuid

import pytest

from core.errors import KeysMismatch
from store import Stores
from store.encryption_keys import EncryptionKeyRegistry

pytestmark = pytest.mark.integration


async def test_a_process_joins_only_with_keys_that_read_the_deployment(stores: Stores) -> None:
    """The first process records its keys; the same keys join; the same name with another
    key, or no key at all, is refused; another deployment is not affected."""
    registry = EncryptionKeyRegistry(stores.engine)
    deployment = f"default/{uuid.uuid4().hex}"
    await registry.check_and_record(deployment, {"k1": "aaa"}, "k1")
    await registry.check_and_record(deployment, {"k1": "aaa"}, "k1")
    with pytest.raises(KeysMismatch, match="key 'k1' is not the key"):
        await registry.check_and_record(deployment, {"k1": "bbb"}, "k1")
    with pytest.raises(KeysMismatch, match=r"lacks key 'k1'.*keys here: none"):
        await registry.check_and_record(deployment, {}, None)
    await registry.check_and_record(f"default/{uuid.uuid4().hex}", {}, None)


async def test_a_rotation_passes_and_then_refuses_the_old_key_alone(stores: Stores) -> None:
    """k2 put first beside k1 joins and becomes the key the deployment encrypts with; a
    process with k1 alone can no longer read new payloads and is refused; k2 alone (k1
    dropped once no run needs it) joins."""
    registry = EncryptionKeyRegistry(stores.engine)
    deployment = f"default/{uuid.uuid4().hex}"
    await registry.check_and_record(deployment, {"k1": "aaa"}, "k1")
    await registry.check_and_record(deployment, {"k2": "ccc", "k1": "aaa"}, "k2")
    with pytest.raises(KeysMismatch, match="lacks key 'k2'"):
        await registry.check_and_record(deployment, {"k1": "aaa"}, "k1")
    await registry.check_and_record(deployment, {"k2": "ccc"}, "k2")
