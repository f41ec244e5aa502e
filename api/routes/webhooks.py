"""Routes for job webhooks: the owner's signing secret, its rotation, and a redelivery."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api.deps import CurrentOwner, JobId, SettingsDep, StoresDep, TemporalClient
from api.job_service import JobService
from api.responses import V1, errors
from api.schemas import WebhookRedelivery, WebhookSecret
from core.contracts.webhooks import WEBHOOK_DELIVERY_WORKFLOW, WebhookMessage
from core.errors import JobConflict
from store.database import outage_as_unavailable

router = APIRouter(tags=["webhooks"], responses=errors(*V1))


@router.get("/v1/webhooks/secret", response_model=WebhookSecret)
async def webhook_secret(owner: CurrentOwner, stores: StoresDep) -> WebhookSecret:
    """The secret that signs your jobs' webhooks (made on first read)."""
    async with outage_as_unavailable():
        return WebhookSecret(secret=await stores.webhooks.secret(owner))


@router.post("/v1/webhooks/secret/rotate", response_model=WebhookSecret)
async def rotate_webhook_secret(owner: CurrentOwner, stores: StoresDep) -> WebhookSecret:
    """A new secret. The previous one keeps signing beside it for
    AIJOBS_WEBHOOK_SECRET_GRACE_S, so receivers can switch without missing a message."""
    async with outage_as_unavailable():
        return WebhookSecret(secret=await stores.webhooks.rotate(owner))


@router.post(
    "/v1/jobs/{job_id}/webhook/redeliver",
    response_model=WebhookRedelivery,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(404, 409),
)
async def redeliver_webhook(
    job_id: JobId,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> WebhookRedelivery:
    """Send the job's last webhook again, with the same `webhook-id` (409 when the job sent
    none yet, 404 when it is not yours)."""
    async with outage_as_unavailable():
        stored = await stores.webhooks.last(owner, job_id)
    if stored is None:
        await JobService(client, settings, owner).check_owned(job_id)
        raise JobConflict(
            f"job {job_id!r} has sent no webhook: it asked for none, or none of its events "
            "has happened yet"
        )
    message = WebhookMessage.model_validate(stored)
    await client.start_workflow(
        WEBHOOK_DELIVERY_WORKFLOW,
        message,
        id=f"{job_id}-{message.webhook_id}-again-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
        static_summary=f"{message.event} webhook of {job_id}, sent again",
    )
    return WebhookRedelivery(webhook_id=message.webhook_id, event=message.event)
