"""A job's events as Server-Sent Events, read from its Workflow Stream and resumable by offset."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from fastapi.sse import ServerSentEvent
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.service import RPCError

from api.job_service import JobService
from core.events import TERMINAL_TYPES

log = structlog.get_logger(__name__)

# How soon a caught-up subscriber polls again; lower means lower latency and more polls.
POLL_COOLDOWN = timedelta(milliseconds=50)
# Pause before re-subscribing when Temporal or the job's worker did not answer a poll.
RESUBSCRIBE_AFTER_S = 0.5


async def job_events(
    client: Client, jobs: JobService, job_id: str, topics: list[str], after: int | None
) -> AsyncIterator[ServerSentEvent]:
    """Every event after offset `after` (or from the start), ending after the terminal event.

    Runs whose end published nothing (terminated, timed out) get a `failed` event made from
    Temporal's record, without an id since it is not in the stream.
    """
    offset = 0 if after is None else after + 1
    stream = WorkflowStreamClient.create(client, job_id)
    while True:
        try:
            async for item in stream.subscribe(
                topics or None, from_offset=offset, poll_cooldown=POLL_COOLDOWN
            ):
                offset = item.offset + 1
                yield ServerSentEvent(id=str(item.offset), event=item.topic, data=item.data)
                if item.topic in TERMINAL_TYPES:
                    return
            break
        except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as err:
            # Usually a job whose worker is down or restarting: keep the client, poll again.
            log.info("events.resubscribe", job_id=job_id, offset=offset, reason=str(err))
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)
    job = await jobs.get(job_id)
    if job.error is not None and (not topics or "failed" in topics):
        yield ServerSentEvent(
            event="failed", data={"type": "failed", "error": job.error.model_dump()}
        )
