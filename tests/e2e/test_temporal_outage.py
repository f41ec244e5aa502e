"""Temporal goes away while a model call is in flight: the answer arrives but cannot be
reported, the worker is lost too; once Temporal is back, the retried step takes the answer
from the journal, and the model is asked once."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.contracts.summarize import SummarizeRun
from core.temporal import dev_server_flags
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.processes import kill, start_worker, stop, worker_env
from tests.support.temporal import binary
from workflows.summarize import SummarizeWorkflow


@contextmanager
def dev_server(db_file: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A dev server on a SQLite file, so a restart on the same port finds its workflows."""
    process = subprocess.Popen(
        [
            binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--log-level",
            "error",
            *dev_server_flags(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            kill(process)


async def _connect(port: int) -> Client:
    async def connected() -> Client | None:
        try:
            return await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        except RuntimeError:
            return None

    client = await eventually(connected, until=lambda c: c is not None, what="Temporal up")
    assert client is not None
    return client


async def test_an_answer_that_arrived_during_an_outage_is_not_paid_again(
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    gate = threading.Event()
    fake_openai.script(Reply.held(gate, "The one paid answer."))
    port = free_port()
    db_file = tmp_path / "temporal.db"
    env = worker_env(f"127.0.0.1:{port}", task_queue, fake_openai.base_url, tmp_path, database_url)
    job_id = f"outage-{uuid.uuid4().hex}"

    with dev_server(db_file, port) as server:
        client = await _connect(port)
        worker = start_worker(env, tmp_path / "worker-1.log")
        await client.start_workflow(
            SummarizeWorkflow.run,
            SummarizeRun(text="One short paragraph to summarize."),
            id=job_id,
            task_queue=task_queue,
        )

        async def in_flight() -> int:
            return len(fake_openai.requests)

        await eventually(in_flight, until=lambda n: n == 1, timeout_s=60, what="the call")
        kill(server)  # Temporal is gone while the model writes its answer.
        gate.set()

        async def journaled() -> int:
            async with stores.engine.connect() as conn:
                found = await conn.execute(
                    text("SELECT count(*) FROM model_journal WHERE key LIKE :job"),
                    {"job": f"{job_id}/%"},
                )
                return int(found.scalar_one())

        await eventually(journaled, until=lambda n: n == 1, timeout_s=30, what="the journal")
        kill(worker)  # ...and the worker that holds the unreported answer is lost too.

    with dev_server(db_file, port):
        client = await _connect(port)
        worker = start_worker(env, tmp_path / "worker-2.log")
        try:
            handle = client.get_workflow_handle(job_id)
            result = await asyncio.wait_for(handle.result(), timeout=90)
        finally:
            stop(worker)
    assert result["summary"] == "The one paid answer."
    assert len(fake_openai.requests) == 1
    assert '"source": "journal"' in (tmp_path / "worker-2.log").read_text()
