"""Delivering one webhook message: its own workflow, started by a job (or a redelivery) and
left running when the job ends, so the job never waits for its receiver and the delivery
outlives it. Retries are Temporal's: backoff up to an hour between attempts, for 24 hours."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.contracts.webhooks import (
        DELIVER_WEBHOOK,
        WEBHOOK_DELIVERY_WORKFLOW,
        WEBHOOK_REFUSED,
        WebhookAttempt,
        WebhookMessage,
    )

DELIVERY_WINDOW = timedelta(hours=24)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    maximum_attempts=0,
    non_retryable_error_types=[WEBHOOK_REFUSED],
)


@workflow.defn(name=WEBHOOK_DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, message: WebhookMessage) -> WebhookAttempt | None:
        """The attempt that delivered it, or None when the receiver refused it or 24 hours
        passed (each attempt is in the job's events either way)."""
        try:
            attempt: WebhookAttempt = await workflow.execute_activity(
                DELIVER_WEBHOOK,
                message,
                result_type=WebhookAttempt,
                start_to_close_timeout=timedelta(seconds=30),
                # An attempt on a worker that died is tried again in seconds, not at 30 s.
                heartbeat_timeout=timedelta(seconds=6),
                schedule_to_close_timeout=DELIVERY_WINDOW,
                retry_policy=DELIVERY_RETRY,
                summary=f"{message.event} → webhook",
            )
        except ActivityError:
            return None
        return attempt
