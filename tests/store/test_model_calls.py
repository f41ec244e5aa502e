"""Per-model limits in the database: requests and tokens per window, and provider pauses."""

from __future__ import annotations

import uuid
from datetime import timedelta

from core.config import ModelLimit
from store import Stores
from store.model_calls import UNSETTLED_GRACE

WINDOW = timedelta(seconds=30)


async def test_requests_beyond_the_limit_wait_for_the_oldest_to_leave(stores: Stores) -> None:
    """rpm:3 admits three calls, then says to wait until the first leaves: a window after its
    answer was in, or (while it is unsettled) a window plus a grace after admission."""
    model = f"m-{uuid.uuid4().hex}"
    limit = ModelLimit(requests=3)
    admitted = [await stores.model_calls.admit(model, 10, limit, WINDOW) for _ in range(3)]
    assert all(a.admitted for a in admitted)
    refused = await stores.model_calls.admit(model, 10, limit, WINDOW)
    assert not refused.admitted
    grace = UNSETTLED_GRACE.total_seconds()
    assert 29 + grace < refused.wait_s <= 30 + grace
    for admission in admitted:
        assert admission.call_id is not None
        await stores.model_calls.settle(admission.call_id, 10)
    settled = await stores.model_calls.admit(model, 10, limit, WINDOW)
    assert 29 < settled.wait_s <= 30


async def test_tokens_count_from_real_usage(stores: Stores) -> None:
    """tpm:1000: an estimate of 600 admits one call; once its real usage (100) replaces the
    estimate, a second 600 fits."""
    model = f"m-{uuid.uuid4().hex}"
    limit = ModelLimit(tokens=1000)
    first = await stores.model_calls.admit(model, 600, limit, WINDOW)
    assert first.admitted
    assert first.call_id is not None
    assert not (await stores.model_calls.admit(model, 600, limit, WINDOW)).admitted
    await stores.model_calls.settle(first.call_id, 100)
    assert (await stores.model_calls.admit(model, 600, limit, WINDOW)).admitted


async def test_a_provider_pause_holds_every_call_to_the_model(stores: Stores) -> None:
    """After a 429's Retry-After, no worker's call is admitted until it has passed, even to a
    model without limits; other models are not held."""
    model = f"m-{uuid.uuid4().hex}"
    await stores.model_calls.pause(model, 5)
    held = await stores.model_calls.admit(model, 10, None, WINDOW)
    assert not held.admitted
    assert 4 < held.wait_s <= 5
    assert (await stores.model_calls.admit(f"other-{model}", 10, None, WINDOW)).admitted
