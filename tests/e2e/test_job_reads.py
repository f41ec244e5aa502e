"""Reading a job never waits for a worker: with its only worker frozen by SIGSTOP, `GET
/v1/jobs/{id}` answers with the progress the job's events last showed."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import key_of
from tests.support.api_server import serve_api
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply
from tests.support.polling import eventually
from tests.support.processes import start_worker, stop, worker_env

pytestmark = pytest.mark.e2e

TEXT = "\n\n".join(f"Section {i} " + "text " * 35 for i in range(4))


async def test_a_running_jobs_progress_is_read_without_its_worker(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    """The chunk calls hang; the worker is stopped with SIGSTOP; the job still reads as
    running with the stage, counts and total of its last `stage` event. Once the worker goes
    on, the job completes."""
    gate = threading.Event()

    def responder(request: dict[str, Any]) -> Reply:
        return default_reply(request) if gate.is_set() else Reply.held(gate, "Held summary.")

    fake_openai.responder = responder
    env = worker_env(
        dev_env.client.service_client.config.target_host,
        settings.task_queue,
        fake_openai.base_url,
        tmp_path,
        database_url,
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    alice = key_of(settings, "alice")
    try:
        async with (
            serve_api(settings, dev_env.client) as url,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {alice}"}) as api,
        ):
            body = {"type": "summarize", "input": {"text": TEXT, "chunk_chars": 200}}
            job_id = await start_job(api, body)
            await eventually(lambda: _in_flight(fake_openai), until=lambda n: n > 0)
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                job = (await api.get(f"/v1/jobs/{job_id}")).json()
                events = await stores.events.read(job_id, after=-1)
                last = next(e.data for e in reversed(events) if e.type == "stage")
                assert job["status"] == "running"
                progress = job["progress"]
                assert progress is not None
                assert (progress["stage"], progress["completed"], progress["total"]) == (
                    last["stage"],
                    last["completed"],
                    last["total"],
                )
                assert progress["stage"] == "summarizing"
                assert progress["total"] >= 5  # four chunks and their combine
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            gate.set()
            done = await wait_for(api, job_id, "completed")
            assert done["progress"]["stage"] == "done"
    finally:
        gate.set()
        if worker.poll() is None:
            assert stop(worker) == 0, log.read_text()


async def _in_flight(fake: FakeOpenAI) -> int:
    return fake.in_flight
