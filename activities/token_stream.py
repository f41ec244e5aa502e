"""Publishing a model call's tokens to the job's Workflow Stream while the call runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import activity
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.exceptions import ApplicationError

from core.events import RetryEvent, TokenEvent

LOST_ATTEMPT = "the previous attempt did not finish (worker stopped, timeout or transient error)"


@asynccontextmanager
async def token_stream(
    step: str, batch_interval: timedelta
) -> AsyncIterator[Callable[[str], None]]:
    """Yield a callback that publishes text deltas for `step`; flushed in batches.

    A retried attempt first says so (`retry`), so clients drop the failed attempt's text.
    """
    info = activity.info()
    async with WorkflowStreamClient.from_within_activity(batch_interval=batch_interval) as stream:
        if info.attempt > 1:
            reason = str(info.heartbeat_details[0]) if info.heartbeat_details else LOST_ATTEMPT
            stream.topic("retry").publish(
                RetryEvent(step=step, attempt=info.attempt, reason=reason)
            )
        tokens = stream.topic("token")
        yield lambda text: tokens.publish(TokenEvent(step=step, text=text, attempt=info.attempt))


@asynccontextmanager
async def tokens_for(
    step: str | None, batch_interval: timedelta
) -> AsyncIterator[Callable[[str], None] | None]:
    """`token_stream` for a named step; None (no streaming) for a call without one."""
    if step is None:
        yield None
        return
    async with token_stream(step, batch_interval) as on_text:
        yield on_text


@asynccontextmanager
async def remember_failure() -> AsyncIterator[None]:
    """Leave a retryable failure's reason in the heartbeat details, for the next attempt's
    `retry` event to quote."""
    try:
        yield
    except ApplicationError as err:
        if not err.non_retryable:
            activity.heartbeat(f"{err.type}: {err.message}")
        raise
