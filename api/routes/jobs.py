"""Routes for jobs: start one, read one, list your own, cancel one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic.json_schema import SkipJsonSchema

from api.deps import CurrentCaller, CurrentOwner, JobId, SettingsDep, StoresDep, TemporalClient
from api.job_service import JobService
from api.job_starts import IdempotencyKey, start_job
from api.responses import BODY, V1, errors
from api.schemas import (
    SCHEDULE_ID_PATTERN,
    CancelAccepted,
    InputAccepted,
    InputSubmit,
    Job,
    JobCreate,
    JobCreated,
    JobPage,
    JobStatus,
)
from core.errors import InvalidInput
from core.jobs import JOB_TYPES
from store.database import ping

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=errors(*V1))

_JOB_TYPE_PATTERN = "^(?:" + "|".join(JOB_TYPES) + ")$"


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreated,
    responses={
        200: {"model": JobCreated, "description": "Replayed: this Idempotency-Key's job."},
        **errors(*BODY, 402, 409),
    },
)
async def create_job(
    request: Request,
    body: JobCreate,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobCreated:
    return await start_job(
        request, response, body, owner, idempotency_key, client, settings, stores
    )


@router.get("", response_model=JobPage)
async def list_jobs(
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    type: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern=_JOB_TYPE_PATTERN, description="Only this job type."),
    ] = None,
    status: Annotated[
        JobStatus | SkipJsonSchema[None], Query(description="Only jobs in this status.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str | SkipJsonSchema[None], Query(max_length=4096)] = None,
    schedule: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern=SCHEDULE_ID_PATTERN, description="Only jobs this schedule started."),
    ] = None,
) -> JobPage:
    """The caller's jobs: running ones first, then closed ones, most recently closed first."""
    if type is not None and type not in JOB_TYPES:
        valid = ", ".join(sorted(JOB_TYPES))
        raise InvalidInput(("query", "type"), f"unknown job type {type!r}; valid types: {valid}")
    jobs = JobService(client, settings, owner)
    return await jobs.list(type, status, limit, page_token, schedule)


@router.get("/{job_id}", response_model=Job, responses=errors(404))
async def get_job(
    job_id: JobId,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> Job:
    """The job as it stands; a running job's progress comes from the database, so reading a
    job never waits for a worker."""
    return await JobService(client, settings, owner, stores).get(job_id)


@router.post(
    "/{job_id}/input",
    response_model=InputAccepted,
    responses=errors(*BODY, 404, 409, 504),
)
async def submit_input(
    job_id: JobId,
    body: InputSubmit,
    caller: CurrentCaller,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> InputAccepted:
    """Answer what the job waits for (`waiting_for.name`); the value must fit its schema. The
    job's owner may answer, and so may a reviewer of a group the job grants
    (`options.reviewers`); a question another reviewer has claimed is a 409 naming them."""
    # A job cannot move on from an answer while its event log is away: 503 at once, rather
    # than a wait on the job that ends near the input timeout.
    await ping(stores.engine)
    jobs = JobService(client, settings, caller.name, stores, reviewer=caller.reviewer)
    record = await jobs.submit_input(job_id, body.name, body.value, body.question_id)
    return InputAccepted(
        question_id=record.question_id,
        name=record.name,
        value=record.value,
        answered_by=record.answered_by,
        at=record.at,
    )


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelAccepted,
    responses=errors(404, 409),
)
async def cancel_job(
    job_id: JobId, owner: CurrentOwner, client: TemporalClient, settings: SettingsDep
) -> CancelAccepted:
    await JobService(client, settings, owner).cancel(job_id)
    return CancelAccepted(id=job_id)
