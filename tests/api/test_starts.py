"""A client can always tell whether its job started: every answer to a start names its key
and job id, a start Temporal did not confirm is asked again under the same id, and a client
that retries with the key it was given never gets a second job."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api import job_starts
from core.config import Settings
from store import quotas as quota_check
from tests.api.jobs_client import SUMMARIZE
from tests.conftest import Api, key_of
from tests.support.api_server import serve_api
from tests.support.polling import eventually
from tests.support.temporal import own_dev_server


async def test_every_answer_to_a_start_names_its_key_and_job(api: Api) -> None:
    """Without a key the API makes one; retrying with it returns the same job (200)."""
    first = await api.alice.post("/v1/jobs", json=SUMMARIZE)
    assert first.status_code == 202
    key, job_id = first.headers["idempotency-key"], first.headers["job-id"]
    assert first.json()["id"] == job_id
    again = await api.alice.post("/v1/jobs", json=SUMMARIZE, headers={"Idempotency-Key": key})
    assert again.status_code == 200
    assert again.json()["id"] == job_id
    # An error answer names them too, so whatever happened the client can ask again safely.
    refused = await api.alice.post(
        "/v1/jobs", json={"type": "summarize", "input": {"text": "x", "chunk_chars": 1}}
    )
    assert refused.status_code == 422
    assert refused.headers["job-id"].startswith("job-")
    assert refused.headers["idempotency-key"]


async def owner_jobs(address: str, owner: str, at_least: int) -> int:
    """The owner's jobs as Temporal's visibility counts them, once it shows `at_least` (it is
    eventually consistent: a job started a moment ago may not be counted yet)."""
    client = await Client.connect(address)

    async def count() -> int:
        return (await client.count_workflows(f"JobOwner = '{owner}'")).count

    await eventually(count, until=lambda n: n >= at_least, what=f"{at_least} jobs counted")
    return await count()


@pytest.fixture
def frozen_settings(settings: Settings) -> Settings:
    # Short deadlines: a frozen server times out in a second, not ten.
    return settings.model_copy(update={"rpc_timeout_s": 1.0})


async def test_a_frozen_temporal_is_503_everywhere_and_starts_at_most_once(
    frozen_settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = next(o for o in frozen_settings.api_keys if o.startswith("alice-"))
    async with own_dev_server() as (address, server):
        # Freeze the server between the quota check (the database's count) and the start.
        quotas = quota_check.admit_start

        async def then_freeze(*args: Any) -> None:
            await quotas(*args)
            os.kill(server.pid, signal.SIGSTOP)

        monkeypatch.setattr(job_starts, "admit_start", then_freeze)
        settings = frozen_settings.model_copy(update={"temporal_address": address})
        headers = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
        async with (
            serve_api(settings, client=None) as url,
            httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http,
        ):
            assert (await http.get("/readyz")).status_code == 200
            os.kill(server.pid, signal.SIGSTOP)
            for path in ("/readyz", "/v1/jobs", "/v1/jobs/job-x"):
                frozen = await http.get(path)
                assert frozen.status_code == 503, (path, frozen.text)
                assert frozen.json()["code"] == "temporal_unavailable"
                assert frozen.headers["retry-after"]

            os.kill(server.pid, signal.SIGCONT)
            # Frozen through every attempt: 503, naming the key to retry with.
            unconfirmed = await http.post("/v1/jobs", json=SUMMARIZE)
            assert unconfirmed.status_code == 503, unconfirmed.text
            key = unconfirmed.headers["idempotency-key"]
            assert "Idempotency-Key" in unconfirmed.json()["message"]
            os.kill(server.pid, signal.SIGCONT)
            # The frozen server may still carry out the start it had received; either way the
            # retry with the key leaves exactly one job.
            monkeypatch.setattr(job_starts, "admit_start", quotas)
            retried = await http.post("/v1/jobs", json=SUMMARIZE, headers={"Idempotency-Key": key})
            assert retried.status_code in (200, 202), retried.text
            assert retried.json()["id"] == unconfirmed.headers["job-id"]
            assert await owner_jobs(address, owner, 1) == 1

            # Thawed while the API asks again: the same request ends 202 with one job.
            monkeypatch.setattr(job_starts, "admit_start", then_freeze)
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                pending = asyncio.create_task(http.post("/v1/jobs", json=SUMMARIZE))

                def unconfirmed_logged() -> bool:
                    return any(
                        isinstance(r.msg, dict) and r.msg.get("event") == "job.start_unconfirmed"
                        for r in caplog.records
                    )

                async def logged() -> bool:
                    return unconfirmed_logged()

                await eventually(logged, timeout_s=10, what="a start left unconfirmed")
                os.kill(server.pid, signal.SIGCONT)
                answered = await pending
            assert answered.status_code == 202, answered.text
            assert answered.json()["id"] == answered.headers["job-id"]
            assert await owner_jobs(address, owner, 2) == 2


async def test_many_retrying_clients_without_keys_make_one_job_each(
    api: Api, settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    """200 logical requests at once, each retried (with the key its answer named) until it
    is accepted: exactly 200 jobs, one per request."""
    settings.owner_max_running = 1000

    async def submit(n: int) -> str:
        body: dict[str, Any] = {"type": "summarize", "input": {"text": f"Request {n}. Done."}}
        headers: dict[str, str] = {}
        for _ in range(20):
            response = await api.alice.post("/v1/jobs", json=body, headers=headers, timeout=60)
            if response.status_code in (200, 202):
                return str(response.json()["id"])
            assert response.status_code in (429, 503), response.text
            headers = {"Idempotency-Key": response.headers["idempotency-key"]}
        raise AssertionError(f"request {n} was never accepted")

    ids = await asyncio.gather(*(submit(n) for n in range(200)))
    assert len(set(ids)) == 200
    owner = next(o for o in api.owners if o.startswith("alice-"))

    async def counted() -> int:
        return (await dev_env.client.count_workflows(f"JobOwner = '{owner}'")).count

    await eventually(counted, until=lambda n: n == 200, what="200 jobs in visibility")
