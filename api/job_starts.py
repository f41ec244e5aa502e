"""Starting a checked job for its owner, the same way for a start and a rerun: its
Idempotency-Key before anything can fail, the owner's quotas, then Temporal."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Request, Response, status
from pydantic.json_schema import SkipJsonSchema
from temporalio.client import Client

from api.job_requests import checked_job
from api.job_service import JobService
from api.reruns import Rerun
from api.schemas import JobCreate, JobCreated
from core.config import Settings
from core.jobs import job_id_for
from store import Stores
from store.quotas import admit_start

IdempotencyKey = Annotated[
    str | SkipJsonSchema[None],
    Header(
        min_length=1,
        max_length=200,
        description="Same key and same body return the same job instead of a new one.",
    ),
]


async def start_job(
    request: Request,
    response: Response,
    body: JobCreate,
    owner: str,
    idempotency_key: str | None,
    client: Client,
    settings: Settings,
    stores: Stores,
    rerun: Rerun | None = None,
) -> JobCreated:
    """202 with the new job, or 200 with the job this key already started."""
    # Every start has a key before anything else can fail, and every answer names it: a client
    # that did not send one retries with this one and cannot start the job twice.
    key = idempotency_key or f"auto-{uuid.uuid4().hex}"
    request.state.start_headers = {"Idempotency-Key": key, "Job-Id": job_id_for(owner, key)}
    response.headers.update(request.state.start_headers)
    job_type, job_input = await checked_job(body, owner, settings, stores)
    jobs = JobService(client, settings, owner, stores)
    job_id = job_id_for(owner, key)
    await admit_start(owner, job_id, settings, jobs.ended_among, stores)
    # A start that failed, or whose outcome is unknown, keeps its place until the owner next
    # reaches the cap: then Temporal says whether it runs (a job never started is not found).
    job, created = await jobs.start(job_type, job_input, key, body.options, rerun)
    if job.status not in ("running", "waiting_for_input"):
        await stores.running.forget([job_id])  # a replay of a job that already ended
    response.status_code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    response.headers["Location"] = job.links.self
    return job
