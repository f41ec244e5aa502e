"""A job's events as Server-Sent Events, read from its event log and resumable by offset."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from fastapi.sse import ServerSentEvent

from api.event_hub import READ_PAGE, EventHub, JobFeed
from api.schemas import Job, JobError
from core.errors import JobNotFound
from core.events import TERMINAL_TYPES, CancelledEvent, CompletedEvent, FailedEvent, TruncatedEvent
from store import JobEventLog

log = structlog.get_logger(__name__)

# A watcher idle this long re-reads the log (in case a NOTIFY was lost) and, at most this
# often per job and process, asks Temporal whether the job ended without a final event.
IDLE_CHECK_S = 15.0
# The first check comes sooner, so the stream of a job that already ended ends promptly.
FIRST_CHECK_S = 2.0

ClosedJob = Callable[[str], Awaitable[Job | None]]


async def job_events(
    hub: EventHub,
    events: JobEventLog,
    closed_job: ClosedJob,
    job_id: str,
    types: list[str],
    after: int | None,
) -> AsyncIterator[ServerSentEvent]:
    """Every event after offset `after` (or from the start), ending after the terminal one.

    A client behind what retention kept first gets `truncated`. A job that ended without a
    final event in its log (terminated, timed out) ends the stream with one made from
    Temporal's record, without an id since it is not in the log.
    """
    last = -1 if after is None else after
    async with hub.watch(job_id) as feed:
        if after is not None and (notice := await _truncation(events, job_id, after)):
            yield notice
            last = max(last, int(notice.id or last))
        while True:
            changed = feed.changed
            batch = feed.take(last)
            if batch is None:
                batch = await events.read(job_id, after=last, limit=READ_PAGE)
            for event in batch:
                last = event.offset
                if not types or event.type in types:
                    yield ServerSentEvent(id=str(event.offset), event=event.type, data=event.data)
                if event.type in TERMINAL_TYPES:
                    return
            if batch:
                continue
            if await _woken(changed, _idle_wait(feed)):
                continue
            feed.poke()
            if (outcome := await _closed(feed, closed_job)) is not None:
                # One more read: its final events may have landed since.
                if await events.read(job_id, after=last, limit=1):
                    continue
                if not types or outcome.type in types:
                    yield ServerSentEvent(event=outcome.type, data=outcome.model_dump(mode="json"))
                return


async def _truncation(events: JobEventLog, job_id: str, after: int) -> ServerSentEvent | None:
    """A `truncated` notice when retention removed events after `after`, else None."""
    head = await events.head(job_id)
    if head is not None and after >= head.trimmed_through:
        return None
    first = await events.read(job_id, after=after, limit=1)
    continues = first[0].offset if first else (head.next_offset if head else after + 1)
    notice = TruncatedEvent(
        continues_from=continues,
        removed_through=head.trimmed_through if head else after,
    )
    return ServerSentEvent(
        # The id moves the client's Last-Event-ID past the hole, so it is told only once.
        id=str(continues - 1) if continues - 1 > after else None,
        event=notice.type,
        data=notice.model_dump(),
    )


def _idle_wait(feed: JobFeed) -> float:
    """How long to wait for news before the next liveness check: always some quiet, so a job
    whose log keeps moving is never asked about."""
    if feed.status_checked_at is None:
        return FIRST_CHECK_S
    return max(FIRST_CHECK_S, feed.status_checked_at + IDLE_CHECK_S - time.monotonic())


async def _woken(changed: asyncio.Event, wait_s: float) -> bool:
    if changed.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(changed.wait(), max(wait_s, 0.001))
        return True
    return False


Outcome = CompletedEvent | CancelledEvent | FailedEvent


async def _closed(feed: JobFeed, closed_job: ClosedJob) -> Outcome | None:
    """How the job ended, if it has; Temporal is asked at most once per IDLE_CHECK_S per job
    for all watchers."""
    now = time.monotonic()
    if feed.status_checked_at is not None and now - feed.status_checked_at < IDLE_CHECK_S:
        return None
    feed.status_checked_at = now
    try:
        job = await closed_job(feed.job_id)
    except JobNotFound:
        # Registered, but the start never reached Temporal, or Temporal no longer keeps it.
        return FailedEvent(error={"type": "JobNotFound", "message": "the job does not exist"})
    if job is None:
        return None
    if job.status == "completed":
        return CompletedEvent(result=job.result)
    if job.status == "cancelled":
        return CancelledEvent()
    error = job.error or JobError(
        type=job.status, message=f"the job {job.status.replace('_', ' ')}"
    )
    return FailedEvent(error=error.model_dump())
