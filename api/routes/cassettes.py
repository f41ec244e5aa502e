"""Route for cassettes: import one for the caller, to replay with `options.replay_from`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, status

from api.deps import CurrentOwner, StoresDep
from api.responses import BODY, V1, errors
from api.schemas import CassetteCreated
from core.contracts.steps import CASSETTE_PREFIX, Cassette
from core.errors import InvalidInput
from core.jobs import JOB_TYPES
from store.database import outage_as_unavailable
from store.job_requests import JobRequest
from store.job_steps import StepRow

router = APIRouter(prefix="/v1/cassettes", tags=["reruns"], responses=errors(*V1))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CassetteCreated,
    responses=errors(*BODY),
)
async def import_cassette(
    body: Cassette, owner: CurrentOwner, stores: StoresDep
) -> CassetteCreated:
    """Keep a cassette (GET /v1/jobs/{id}/cassette) for the caller; only they can replay it.
    It is kept as long as a job's records (AIJOBS_JOURNAL_RETENTION_DAYS)."""
    if body.job.type not in JOB_TYPES:
        valid = ", ".join(sorted(JOB_TYPES))
        raise InvalidInput(
            ("body", "job", "type"), f"unknown job type {body.job.type!r}; valid types: {valid}"
        )
    names: set[str] = set()
    for index, step in enumerate(body.steps):
        if step.name in names:
            raise InvalidInput(
                ("body", "steps", index, "name"), f"step {step.name!r} appears twice"
            )
        names.add(step.name)
    cassette_id = f"{CASSETTE_PREFIX}{uuid.uuid4().hex}"
    imported_at = datetime.now(UTC)
    request = JobRequest(
        job_id=cassette_id,
        owner=owner,
        type=body.job.type,
        input=body.job.input,
        options=body.job.options,
    )
    rows = [
        StepRow(
            job_id=cassette_id,
            name=s.name,
            owner=owner,
            kind=s.kind,
            request=s.request,
            digest=s.digest,
            answer=s.answer,
            model=s.model,
            source="recording",
            usage=s.usage.model_dump(mode="json"),
            # Kept in the cassette's order: the steps list reads them back the same way.
            started_at=imported_at + timedelta(microseconds=index),
            ended_at=imported_at + timedelta(microseconds=index),
        )
        for index, s in enumerate(body.steps)
    ]
    async with outage_as_unavailable():
        # Steps first: until its request is kept, the cassette cannot be named in a start.
        await stores.steps.record(rows)
        await stores.requests.keep(request)
    return CassetteCreated(id=cassette_id, type=body.job.type, steps=len(rows))
