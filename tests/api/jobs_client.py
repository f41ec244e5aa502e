"""Small HTTP helpers the API tests share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.polling import eventually

SUMMARIZE = {
    "type": "summarize",
    "input": {"text": "A short text to summarize. It has two sentences."},
}


async def start_job(client: httpx.AsyncClient, body: dict[str, Any] = SUMMARIZE) -> str:
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


async def wait_for(client: httpx.AsyncClient, job_id: str, status: str) -> dict[str, Any]:
    """Poll the job until it reaches `status`."""

    async def read() -> dict[str, Any]:
        response = await client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    return await eventually(read, until=lambda job: job["status"] == status, what=status)
