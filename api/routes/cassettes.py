"""Route for cassettes: import one for the caller, to replay with `options.replay_from`."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import CurrentOwner, StoresDep
from api.responses import BODY, V1, errors
from api.schemas import CassetteCreated
from core.contracts.options import JobOptions
from core.contracts.steps import Cassette
from core.errors import InvalidInput
from core.jobs import JOB_TYPES
from store import cassettes
from store.database import outage_as_unavailable

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
    job_type = JOB_TYPES.get(body.job.type)
    if job_type is None:
        valid = ", ".join(sorted(JOB_TYPES))
        raise InvalidInput(
            ("body", "job", "type"), f"unknown job type {body.job.type!r}; valid types: {valid}"
        )
    # What the fixture starts the job with: checked as a start checks it.
    for field, model in (("input", job_type.input_model), ("options", JobOptions)):
        try:
            model.model_validate(getattr(body.job, field), strict=True)
        except ValidationError as err:
            raise RequestValidationError(
                [
                    {**e, "loc": ("body", "job", field, *e["loc"])}
                    for e in err.errors(include_url=False, include_context=False)
                ]
            ) from None
    names: set[str] = set()
    for index, step in enumerate(body.steps):
        if step.name in names:
            raise InvalidInput(
                ("body", "steps", index, "name"), f"step {step.name!r} appears twice"
            )
        names.add(step.name)
    async with outage_as_unavailable():
        cassette_id = await cassettes.import_cassette(stores.requests, stores.steps, owner, body)
    return CassetteCreated(id=cassette_id, type=body.job.type, steps=len(body.steps))
