"""Route listing the job types this deployment runs, with each input's JSON schema."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentOwner
from api.responses import V1, errors
from api.schemas import JobTypeInfo
from core.jobs import JOB_TYPES

router = APIRouter(prefix="/v1/job-types", tags=["job types"], responses=errors(*V1))


@router.get("", response_model=list[JobTypeInfo])
async def list_job_types(_: CurrentOwner) -> list[JobTypeInfo]:
    return [
        JobTypeInfo(
            name=job.name,
            description=job.description,
            input_schema=job.input_model.model_json_schema(),
            accepts_input=job.accepts_input,
        )
        for job in JOB_TYPES.values()
    ]
