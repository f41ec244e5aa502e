"""Route streaming a job's events (progress, tokens, tool calls, the outcome) as SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic.json_schema import SkipJsonSchema

from api.deps import CurrentOwner, EventHubDep, JobId, SettingsDep, StoresDep, TemporalClient
from api.job_events import job_events
from api.job_service import JobService
from api.metrics import SSE_CLIENTS
from api.responses import V1, errors
from core.errors import InvalidInput, JobNotFound
from core.events import EVENT_TYPES
from store.database import outage_as_unavailable

# Event ids are PostgreSQL bigints: a larger offset is a 422, not an overflow mid-stream.
MAX_EVENT_ID = 2**63 - 1

router = APIRouter(prefix="/v1/jobs", tags=["events"])

_ONE_TYPE = "(?:" + "|".join(EVENT_TYPES) + ")"
_TYPES_PATTERN = rf"^(?:\s*{_ONE_TYPE}\s*(?:,\s*{_ONE_TYPE}\s*)*)?$"


@dataclass
class _Subscription:
    jobs: JobService
    topics: list[str]


async def _subscription(
    job_id: JobId,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
    types: Annotated[
        str | SkipJsonSchema[None],
        Query(
            max_length=500,
            pattern=_TYPES_PATTERN,
            description=f"Comma-separated event types to keep, of: {', '.join(EVENT_TYPES)}.",
        ),
    ] = None,
) -> _Subscription:
    """Checked before the stream starts, so errors are real 4xx answers, not a broken stream."""
    topics = [t.strip() for t in (types or "").split(",") if t.strip()]
    unknown = sorted(set(topics) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            ("query", "types"), f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}"
        )
    jobs = JobService(client, settings, owner)
    async with outage_as_unavailable():
        head = await stores.events.head(job_id)
    # The API records the owner before it starts a job.
    if head is None or head.owner != owner:
        raise JobNotFound(job_id)
    return _Subscription(jobs, topics)


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "`text/event-stream`: `id` is the offset, `event` the type."},
        **errors(*V1, 404),
    },
)
async def stream_job_events(
    job_id: JobId,
    subscription: Annotated[_Subscription, Depends(_subscription)],
    hub: EventHubDep,
    stores: StoresDep,
    from_offset: Annotated[
        int | SkipJsonSchema[None],
        Query(alias="from", ge=0, le=MAX_EVENT_ID, description="Resume after this event id."),
    ] = None,
    last_event_id: Annotated[int | SkipJsonSchema[None], Header(ge=0, le=MAX_EVENT_ID)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Live events of one job. A closed job replays what its log retains, then ends."""
    after = last_event_id if last_event_id is not None else from_offset
    stream = job_events(
        hub, stores.events, subscription.jobs.closed, job_id, subscription.topics, after
    )
    SSE_CLIENTS.inc()
    try:
        async for event in stream:
            yield event
    finally:
        SSE_CLIENTS.dec()
