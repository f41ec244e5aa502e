"""Every /v1 route needs a key; an owner sees only their own jobs, and a stranger's job is a 404."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from core.contracts.summarize import SummarizeRun
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api
from workflows.summarize import SummarizeWorkflow

ROUTES = [
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/job-123"),
    ("POST", "/v1/jobs/job-123/cancel"),
    ("GET", "/v1/job-types"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_routes_need_a_valid_key(api: Api, method: str, path: str) -> None:
    """No key, a wrong key, or a non-bearer scheme: 401 with a Bearer challenge."""
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YTpi"}):
        response = await api.anonymous.request(method, path, headers=headers, json=SUMMARIZE)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "not_authenticated"


async def test_strangers_job_is_not_found(api: Api) -> None:
    """Bob cannot read, cancel or list Alice's job, and learns nothing: it is simply not found."""
    job_id = await start_job(api.alice)
    for response in (
        await api.bob.get(f"/v1/jobs/{job_id}"),
        await api.bob.post(f"/v1/jobs/{job_id}/cancel"),
    ):
        assert response.status_code == 404
        body = response.json()
        assert (body["code"], body["message"]) == ("job_not_found", f"job {job_id!r} not found")
        assert body["request_id"] == response.headers["x-request-id"]
    await wait_for(api.alice, job_id, "completed")
    listed = (await api.bob.get("/v1/jobs")).json()["jobs"]
    assert job_id not in [job["id"] for job in listed]


async def test_unknown_job_is_not_found(api: Api) -> None:
    """An id no workflow has is a 404, the same answer as a stranger's job."""
    response = await api.alice.get("/v1/jobs/job-does-not-exist")
    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"


async def test_workflow_without_owner_is_not_found(api: Api, dev_env: WorkflowEnvironment) -> None:
    """A workflow started outside the API (no JobOwner) is nobody's job over HTTP."""
    workflow_id = f"outside-{uuid.uuid4().hex}"
    handle = await dev_env.client.start_workflow(
        SummarizeWorkflow.run,
        SummarizeRun(text="Started by an operator."),
        id=workflow_id,
        task_queue=f"nobody-polls-{uuid.uuid4().hex}",
    )
    try:
        response = await api.alice.get(f"/v1/jobs/{workflow_id}")
        assert response.status_code == 404
    finally:
        await handle.terminate()
