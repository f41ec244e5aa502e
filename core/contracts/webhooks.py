"""Job webhooks: what a job start asks for, and what the delivery workflow and its activity
share. Payloads follow the Standard Webhooks specification; they are signed at each attempt
with the owner's secret (read from the database, never carried in history)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.contracts.text import StorableText

DELIVER_WEBHOOK = "deliver_webhook"
WEBHOOK_DELIVERY_WORKFLOW = "WebhookDeliveryWorkflow"
# The receiver answered a status that says not to try again (a 4xx other than 408 and 429), or
# the URL resolved to an address a worker may not reach.
WEBHOOK_REFUSED = "WebhookRefused"
# A body past this carries a link to the job instead of its result or error.
MAX_BODY_CHARS = 64_000

WebhookEvent = Literal["completed", "failed", "cancelled", "waiting_for_input"]
ENDINGS: tuple[WebhookEvent, ...] = ("completed", "failed", "cancelled")


class WebhookOptions(BaseModel):
    """`options.webhook` on a start: where to call back, and for which events."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: StorableText = Field(
        min_length=1,
        max_length=2000,
        description="An http(s) URL on a public address (AIJOBS_WEBHOOK_ALLOW_PRIVATE names "
        "the hosts exempt).",
    )
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(ENDINGS),
        min_length=1,
        max_length=4,
        description="Which events call back. Default: the three endings.",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return url


class WebhookMessage(BaseModel):
    """One message to deliver: its id stays the same across attempts and redeliveries, so a
    receiver can drop duplicates."""

    webhook_id: str
    owner: str
    job_id: str
    url: str
    event: WebhookEvent
    body: dict[str, Any]


class WebhookAttempt(BaseModel):
    """How one attempt went: `status` is the receiver's HTTP status, if it answered."""

    delivered: bool
    status: int | None = None
    attempt: int
    error: str | None = None


# Where each event's detail goes in `data`: what the API shows under the same name.
_DETAIL_KEY: dict[str, str] = {
    "completed": "result",
    "failed": "error",
    "cancelled": "result",
    "waiting_for_input": "waiting_for",
}


def webhook_body(
    job_id: str,
    job_type: str,
    event: WebhookEvent,
    status: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Standard Webhooks body: `type`, `timestamp`, `data` (the job as the API shows it,
    with its result or error unless that is too long, then a link alone)."""
    data: dict[str, Any] = {
        "id": job_id,
        "type": job_type,
        "status": status,
        "event": event,
        "link": f"/v1/jobs/{job_id}",
    }
    if detail is not None:
        data[_DETAIL_KEY[event]] = detail
    body = {"type": f"job.{event}", "timestamp": at.isoformat(), "data": data}
    if len(_json(body)) > MAX_BODY_CHARS:
        data.pop(_DETAIL_KEY[event], None)
        data["truncated"] = True
    return body


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
