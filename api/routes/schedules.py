"""Routes for schedules: jobs that start on a timetable, each run an ordinary job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic.json_schema import SkipJsonSchema

from api.deps import CurrentOwner, SettingsDep, StoresDep, TemporalClient
from api.responses import BODY, V1, errors
from api.schedule_service import ScheduleService
from api.schemas import (
    SCHEDULE_ID_PATTERN,
    BackfillAccepted,
    Schedule,
    ScheduleBackfill,
    ScheduleChange,
    ScheduleCreate,
    SchedulePage,
    TriggerAccepted,
)

router = APIRouter(prefix="/v1/schedules", tags=["schedules"], responses=errors(*V1))

ScheduleId = Annotated[
    str, Path(pattern=SCHEDULE_ID_PATTERN, description="The schedule's id (yours).")
]


def _service(
    owner: CurrentOwner, client: TemporalClient, settings: SettingsDep, stores: StoresDep
) -> ScheduleService:
    return ScheduleService(client, settings, owner, stores)


Schedules = Annotated[ScheduleService, Depends(_service)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Schedule,
    responses=errors(*BODY, 409),
)
async def create_schedule(
    body: ScheduleCreate, schedules: Schedules, response: Response
) -> Schedule:
    """Start `job` at every time of the timetable. The job is checked as a start is (the same
    422s); each run checks your running-jobs cap and monthly budget before it starts it."""
    created = await schedules.create(body)
    response.headers["Location"] = created.links.self
    return created


@router.get("", response_model=SchedulePage)
async def list_schedules(
    schedules: Schedules,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str | SkipJsonSchema[None], Query(max_length=4096)] = None,
) -> SchedulePage:
    """Your schedules."""
    return await schedules.page(limit, page_token)


@router.get("/{schedule_id}", response_model=Schedule, responses=errors(404))
async def get_schedule(schedule_id: ScheduleId, schedules: Schedules) -> Schedule:
    """The schedule, its next five run times, and its last ten runs with their jobs."""
    return await schedules.get(schedule_id)


@router.patch("/{schedule_id}", response_model=Schedule, responses=errors(*BODY, 404))
async def change_schedule(
    schedule_id: ScheduleId, body: ScheduleChange, schedules: Schedules
) -> Schedule:
    """Pause (with a note) or resume it, or change its timetable, overlap or job."""
    return await schedules.change(schedule_id, body)


@router.post(
    "/{schedule_id}/trigger",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TriggerAccepted,
    responses=errors(404),
)
async def trigger_schedule(schedule_id: ScheduleId, schedules: Schedules) -> TriggerAccepted:
    """Run it now, once, as its overlap policy allows."""
    await schedules.trigger(schedule_id)
    return TriggerAccepted(id=schedule_id)


@router.post(
    "/{schedule_id}/backfill",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackfillAccepted,
    responses=errors(*BODY, 404),
)
async def backfill_schedule(
    schedule_id: ScheduleId, body: ScheduleBackfill, schedules: Schedules
) -> BackfillAccepted:
    """Run it now for each time it would have run between `start` and `end` (both included,
    at most 100 runs)."""
    return await schedules.backfill(schedule_id, body)


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_schedule(schedule_id: ScheduleId, schedules: Schedules) -> Response:
    """No run starts after this; jobs already started go on."""
    await schedules.delete(schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
