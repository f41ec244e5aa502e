"""`publish_draft` and `notify_person`: once-only side effects, and failures that know if a
retry can help."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from activities.publish import PublishActivities
from core.contracts.publish import NotifyRequest, PublishReceipt, PublishRequest
from store import Stores
from tests.support.webhook import Webhook

REQUEST = PublishRequest(
    idempotency_key="job-1/round-1/publish", job_id="job-1", round=1, text="Hi."
)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook().running() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def publish(
    activities: PublishActivities, request: PublishRequest = REQUEST
) -> PublishReceipt:
    return await ActivityEnvironment().run(activities.publish_draft, request)


async def test_outbox_keeps_one_entry_per_key(stores: Stores, http: httpx.AsyncClient) -> None:
    """Publishing the same request twice (a retry) writes one row and says the second was one."""
    job = f"job-{uuid.uuid4().hex}"
    request = REQUEST.model_copy(update={"job_id": job, "idempotency_key": f"{job}/round-1"})
    activities = PublishActivities(None, stores.outbox, http)
    first = await publish(activities, request)
    second = await publish(activities, request)
    assert (first.destination, first.duplicate) == ("outbox", False)
    assert second.duplicate
    assert await stores.outbox.entries(job) == [(f"{job}/round-1", 1, "Hi.")]


async def test_webhook_gets_the_same_idempotency_key_on_retry(
    stores: Stores, http: httpx.AsyncClient, webhook: Webhook
) -> None:
    """A 5xx is retryable, and the retry carries the same Idempotency-Key; 409 means 'had it'."""
    activities = PublishActivities(webhook.url, stores.outbox, http)
    webhook.statuses.extend([503, 409])
    with pytest.raises(ApplicationError) as caught:
        await publish(activities)
    assert caught.value.type == "PublishFailed"
    assert not caught.value.non_retryable
    receipt = await publish(activities)
    assert (receipt.destination, receipt.duplicate) == ("webhook", True)
    keys = [r.headers["idempotency-key"] for r in webhook.received]
    assert keys == ["job-1/round-1/publish"] * 2
    assert webhook.received[0].body["text"] == "Hi."


async def test_webhook_refusal_is_permanent(
    stores: Stores, http: httpx.AsyncClient, webhook: Webhook
) -> None:
    """A 4xx other than 408/409/429 will not heal: the publish fails without retrying."""
    activities = PublishActivities(webhook.url, stores.outbox, http)
    webhook.statuses.append(422)
    with pytest.raises(ApplicationError) as caught:
        await publish(activities)
    assert (caught.value.type, caught.value.non_retryable) == ("PublishRejected", True)


async def test_unreachable_webhook_is_retryable(stores: Stores, http: httpx.AsyncClient) -> None:
    """Nothing listening: transient, so Temporal retries."""
    activities = PublishActivities("http://127.0.0.1:9/hook", stores.outbox, http)
    with pytest.raises(ApplicationError) as caught:
        await publish(activities)
    assert (caught.value.type, caught.value.non_retryable) == ("PublishUnreachable", False)


async def test_notify_posts_to_the_webhook_when_set(
    http: httpx.AsyncClient, webhook: Webhook
) -> None:
    """Escalations reach a webhook when one is configured, and only log otherwise."""
    request = NotifyRequest(job_id="job-1", name="review", prompt="Review it.", reason="late")
    env = ActivityEnvironment()
    assert await env.run(NotifyActivities(webhook.url, http).notify_person, request)
    assert webhook.received[0].body["name"] == "review"
    assert not await env.run(NotifyActivities(None, http).notify_person, request)
    assert len(webhook.received) == 1
