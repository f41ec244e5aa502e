"""Route for cassettes: import one for the caller, to replay with `options.replay_from`."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentOwner, StoresDep
from api.responses import BODY, V1, errors
from api.schemas import CassetteCreated
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
    async with outage_as_unavailable():
        cassette_id = await cassettes.import_cassette(stores.requests, stores.steps, owner, body)
    return CassetteCreated(id=cassette_id, type=body.job.type, steps=len(body.steps))
