"""Job webhooks through the API, against a real receiver: signed as Standard Webhooks (checked
with the `standardwebhooks` package), retried with the same webhook-id, not retried on a
refusal, recorded in the job's events, redelivered on request, with secret rotation, and
refused at the door for plainly private URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook as Verifier

from core.config import Settings
from store import Stores
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api
from tests.support.cli import aijobs
from tests.support.polling import eventually
from tests.support.webhook import Received, Webhook


@pytest.fixture(autouse=True)
def receiver_on_loopback(settings: Settings) -> None:
    """The test's receiver listens on 127.0.0.1: exempt, as a receiver inside a network is."""
    settings.webhook_allow_private = frozenset({"127.0.0.1"})


@pytest.fixture
def receiver() -> Iterator[Webhook]:
    with Webhook().running() as hook:
        yield hook


def with_webhook(url: str, **webhook: Any) -> dict[str, Any]:
    return {**SUMMARIZE, "options": {"webhook": {"url": url, **webhook}}}


async def received(receiver: Webhook, count: int) -> list[Received]:
    async def probe() -> list[Received]:
        return list(receiver.received)

    return await eventually(probe, until=lambda got: len(got) >= count, what=f"{count} posts")


async def event_types(stores: Stores, job_id: str) -> list[dict[str, Any]]:
    return [e.data for e in await stores.events.read(job_id, after=-1) if "webhook" in e.type]


async def test_a_finished_job_calls_back_once_signed(
    api: Api, receiver: Webhook, stores: Stores
) -> None:
    secret = (await api.alice.get("/v1/webhooks/secret")).json()["secret"]
    assert secret.startswith("whsec_")
    job_id = await start_job(api.alice, with_webhook(receiver.url))
    job = await wait_for(api.alice, job_id, "completed")
    [post] = await received(receiver, 1)
    body = Verifier(secret).verify(post.raw, post.headers)
    assert body["type"] == "job.completed"
    assert body["data"]["id"] == job_id
    assert body["data"]["status"] == "completed"
    assert body["data"]["result"] == job["result"]
    assert post.headers["webhook-id"].startswith("msg_")

    async def delivered() -> list[dict[str, Any]]:
        return await event_types(stores, job_id)

    [event] = await eventually(delivered, what="webhook_delivered event")
    assert event == {
        "type": "webhook_delivered",
        "webhook_id": post.headers["webhook-id"],
        "event": "completed",
        "status": 200,
        "attempt": 1,
    }


async def test_failures_are_retried_with_the_same_id_and_the_job_does_not_wait(
    api: Api, receiver: Webhook, stores: Stores
) -> None:
    receiver.statuses.extend([500, 503])
    job_id = await start_job(api.alice, with_webhook(receiver.url))
    await wait_for(api.alice, job_id, "completed")
    posts = await received(receiver, 3)
    assert len({p.headers["webhook-id"] for p in posts}) == 1

    async def attempts() -> list[dict[str, Any]]:
        return await event_types(stores, job_id)

    events = await eventually(attempts, until=lambda found: len(found) == 3, what="3 events")
    assert [(e["type"], e["attempt"], e.get("status")) for e in events] == [
        ("webhook_failed", 1, 500),
        ("webhook_failed", 2, 503),
        ("webhook_delivered", 3, 200),
    ]


async def test_a_refusal_is_not_retried(api: Api, receiver: Webhook, stores: Stores) -> None:
    receiver.statuses.append(410)
    job_id = await start_job(api.alice, with_webhook(receiver.url))
    await wait_for(api.alice, job_id, "completed")

    async def final() -> list[dict[str, Any]]:
        return [e for e in await event_types(stores, job_id) if e.get("final")]

    [refused] = await eventually(final, what="the final failure")
    assert (refused["status"], refused["attempt"]) == (410, 1)
    assert len(receiver.received) == 1


async def test_a_question_calls_back_and_a_redelivery_keeps_the_id(
    api: Api, receiver: Webhook
) -> None:
    review = {
        "type": "draft_review",
        "input": {"brief": "A note.", "review_timeout_s": 600},
        "options": {"webhook": {"url": receiver.url, "events": ["waiting_for_input"]}},
    }
    job_id = await start_job(api.alice, review)
    [post] = await received(receiver, 1)
    assert post.body["type"] == "job.waiting_for_input"
    assert post.body["data"]["waiting_for"]["name"] == "review"

    stranger = await api.bob.post(f"/v1/jobs/{job_id}/webhook/redeliver")
    assert stranger.status_code == 404
    again = await api.alice.post(f"/v1/jobs/{job_id}/webhook/redeliver")
    assert again.status_code == 202, again.text
    assert again.json() == {"webhook_id": post.headers["webhook-id"], "event": "waiting_for_input"}
    posts = await received(receiver, 2)
    assert posts[1].headers["webhook-id"] == post.headers["webhook-id"]
    assert posts[1].body == post.body
    await api.alice.post(f"/v1/jobs/{job_id}/cancel")


async def test_a_rotated_secret_and_the_previous_one_both_verify(
    api: Api, receiver: Webhook
) -> None:
    old = (await api.alice.get("/v1/webhooks/secret")).json()["secret"]
    new = (await api.alice.post("/v1/webhooks/secret/rotate")).json()["secret"]
    assert new != old
    assert (await api.alice.get("/v1/webhooks/secret")).json()["secret"] == new
    bobs = (await api.bob.get("/v1/webhooks/secret")).json()["secret"]
    assert bobs not in (old, new)
    job_id = await start_job(api.alice, with_webhook(receiver.url))
    await wait_for(api.alice, job_id, "completed")
    [post] = await received(receiver, 1)
    assert len(post.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Verifier(secret).verify(post.raw, post.headers)["data"]["id"] == job_id
    with pytest.raises(Exception, match="No matching signature"):
        Verifier(bobs).verify(post.raw, post.headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://localhost:9000/hook",
        "http://LOCALHOST./hook",
        "https://[::1]/hook",
        "http://169.254.169.254/latest",
        "ftp://example.com/hook",
    ],
)
async def test_a_plainly_private_url_is_refused_at_the_door(api: Api, url: str) -> None:
    response = await api.alice.post("/v1/jobs", json=with_webhook(url))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:4] == ["body", "options", "webhook", "url"]


async def test_webhook_routes_need_a_key(api: Api) -> None:
    for method, path in (
        ("GET", "/v1/webhooks/secret"),
        ("POST", "/v1/webhooks/secret/rotate"),
        ("POST", "/v1/jobs/job-x/webhook/redeliver"),
    ):
        response = await api.anonymous.request(method, path)
        assert response.status_code == 401, path
    missing = await api.alice.post("/v1/jobs/job-x/webhook/redeliver")
    assert missing.status_code == 404


async def test_the_command_line_asks_for_a_webhook(
    api: Api, settings: Settings, receiver: Webhook
) -> None:
    """`aijobs submit --webhook URL` carries the webhook; a private one is refused with the
    API's message."""
    text = json.dumps({"text": "Short."})
    submitted = await aijobs(
        api, settings, "submit", "summarize", "--input", text, "--webhook", receiver.url
    )
    assert submitted.code == 0, submitted.err
    [post] = await received(receiver, 1)
    assert post.body["data"]["id"] == submitted.out.strip()
    refused = await aijobs(
        api, settings, "submit", "summarize", "--input", text, "--webhook", "http://10.0.0.1/"
    )
    assert refused.code == 1
    assert "a webhook must reach a public address" in refused.err
