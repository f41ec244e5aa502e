"""Routes for a job's records: its steps, a rerun from one of them, and its cassette."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.deps import CurrentOwner, JobId, SettingsDep, StoresDep, TemporalClient
from api.job_service import JobService
from api.job_starts import IdempotencyKey, start_job
from api.reruns import no_records, planned_rerun
from api.responses import BODY, V1, errors
from api.schemas import JobCreated, JobStep, JobSteps, RerunCreate
from core.contracts.llm import TokenUsage
from core.contracts.steps import Cassette, CassetteJob
from store import cassettes
from store.database import outage_as_unavailable

router = APIRouter(prefix="/v1/jobs", tags=["reruns"], responses=errors(*V1))


@router.post(
    "/{job_id}/rerun",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreated,
    responses={
        200: {"model": JobCreated, "description": "Replayed: this Idempotency-Key's job."},
        **errors(*BODY, 402, 404, 409),
    },
)
async def rerun_job(
    job_id: JobId,
    body: RerunCreate,
    request: Request,
    response: Response,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
    idempotency_key: IdempotencyKey = None,
) -> JobCreated:
    """Start a new job of the same type from this one's request with `input` and `options`
    edited. With `from_step`, every step the parent finished before that step started is
    taken from the parent's records (no model call, no repeated side effect); without it, the
    parent's steps are taken while they ask exactly what the parent asked."""
    await JobService(client, settings, owner).check_owned(job_id)
    start, rerun = await planned_rerun(owner, job_id, body, settings, stores)
    return await start_job(
        request, response, start, owner, idempotency_key, client, settings, stores, rerun
    )


@router.get("/{job_id}/steps", response_model=JobSteps, responses=errors(404))
async def job_steps(
    job_id: JobId,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> JobSteps:
    """The job's steps in the order they started: model calls, tool calls and people's
    answers, each with its model, where its answer came from, tokens and cost."""
    await JobService(client, settings, owner).check_owned(job_id)
    async with outage_as_unavailable():
        rows = await stores.steps.steps(owner, job_id)
    shown = []
    for row in rows:
        usage = TokenUsage.model_validate(row.usage)
        shown.append(
            JobStep(
                name=row.name,
                kind=row.kind,
                model=row.model,
                source=row.source,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=usage.cost_usd,
                started_at=row.started_at,
                ended_at=row.ended_at or row.started_at,
            )
        )
    return JobSteps(steps=shown)


@router.get("/{job_id}/cassette", response_model=Cassette, responses=errors(404, 409))
async def job_cassette(
    job_id: JobId,
    owner: CurrentOwner,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> Cassette:
    """The job's requests and answers (and tool results) as one versioned document: import it
    (POST /v1/cassettes) and replay it with `options.replay_from`."""
    job = await JobService(client, settings, owner, stores).get(job_id)
    async with outage_as_unavailable():
        request = await stores.requests.get(owner, job_id)
        rows = await stores.steps.steps(owner, job_id)
    if request is None:
        raise no_records(job_id, "export", settings)
    return Cassette(
        job=CassetteJob(type=request.type, input=request.input, options=request.options),
        steps=cassettes.recorded_steps(rows),
        result=job.result,
    )
