"""The delivery activity checks the receiver's addresses at every attempt: a name that now
resolves to a private or metadata address is a final, recorded failure and nothing is sent."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from ipaddress import ip_address

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.tools.fetch_url import tool_http_client
from activities.webhooks import WebhookActivities
from core.addresses import IPAddress
from core.contracts.webhooks import WEBHOOK_REFUSED, WebhookMessage
from store import Stores
from tests.support.webhook import Webhook


def resolving_to(address: str) -> object:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ip_address(address)]

    return resolve


@pytest.mark.parametrize(
    ("address", "allowed", "why"),
    [
        ("10.0.0.5", frozenset(), "a private address"),
        ("127.0.0.1", frozenset(), "a loopback address"),
        ("169.254.169.254", frozenset({"hooks.example.com"}), "the cloud metadata address"),
    ],
)
async def test_a_name_that_resolves_to_a_private_address_is_refused(
    stores: Stores, address: str, allowed: frozenset[str], why: str
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    with Webhook().running() as receiver:
        activities = WebhookActivities(
            tool_http_client(),
            stores.webhooks,
            stores.events,
            allowed,
            timedelta(hours=1),
            resolve=resolving_to(address),  # type: ignore[arg-type]
        )
        env = ActivityEnvironment()
        env.info = replace(env.info, workflow_id=job_id, activity_id="1", attempt=1)
        message = WebhookMessage(
            webhook_id="msg_1",
            owner="alice",
            job_id=job_id,
            # The receiver's port: were the loopback address let through, it would get the post.
            url=f"http://hooks.example.com:{receiver.base.rsplit(':', 1)[1]}/in",
            event="completed",
            body={"type": "job.completed"},
        )
        with pytest.raises(ApplicationError) as refused:
            await env.run(activities.deliver_webhook, message)
        assert receiver.received == []
    assert (refused.value.type, refused.value.non_retryable) == (WEBHOOK_REFUSED, True)
    assert why in refused.value.message
    [event] = await stores.events.read(job_id, after=-1)
    assert (event.type, event.data["final"], event.data["attempt"]) == ("webhook_failed", True, 1)
    assert await stores.webhooks.last("alice", job_id) == message.model_dump(mode="json")
