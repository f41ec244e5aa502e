"""Publishing a model call's tokens to the job's Workflow Stream while the call runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from core.events import RetryEvent, TokenEvent

log = structlog.get_logger(__name__)

# The last token batch may take this long to reach the workflow; after that it is dropped.
FINAL_FLUSH_S = 3.0
LOST_ATTEMPT = "the previous attempt did not finish (worker stopped, timeout or transient error)"


@asynccontextmanager
async def token_stream(
    step: str, batch_interval: timedelta
) -> AsyncIterator[Callable[[str], None]]:
    """Yield a callback that publishes text deltas for `step`; flushed in batches.

    A retried attempt first says so (`retry`), so clients drop the failed attempt's text.
    """
    info = activity.info()
    stream = WorkflowStreamClient.from_within_activity(batch_interval=batch_interval)
    await stream.__aenter__()
    try:
        if info.attempt > 1:
            reason = str(info.heartbeat_details[0]) if info.heartbeat_details else LOST_ATTEMPT
            stream.topic("retry").publish(
                RetryEvent(step=step, attempt=info.attempt, reason=reason)
            )
        tokens = stream.topic("token")
        yield lambda text: tokens.publish(TokenEvent(step=step, text=text, attempt=info.attempt))
    except BaseException:
        # The call failed: flush what there is, without heartbeats that would overwrite the
        # failure reason the next attempt's `retry` event quotes.
        await _final_flush(stream, step, keep_alive=False)
        raise
    await _final_flush(stream, step, keep_alive=True)


async def _final_flush(stream: WorkflowStreamClient, step: str, *, keep_alive: bool) -> None:
    """Send the last tokens, best effort. The model's answer has arrived and is paid for: a
    slow or failing flush must neither fail the call nor outlast its heartbeat timeout, or
    Temporal would run (and the provider bill) the call again."""
    try:
        async with heartbeating() if keep_alive else nullcontext():
            await asyncio.wait_for(stream.__aexit__(None, None, None), FINAL_FLUSH_S)
    except Exception as err:  # best effort by design: the answer matters, the tail does not
        log.warning("stream.final_flush_abandoned", step=step, reason=type(err).__name__)


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
