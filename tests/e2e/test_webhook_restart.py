"""A job ends while its receiver is down, and the worker that was retrying the delivery dies:
the job is completed all along, and the delivery goes on from another worker until the
receiver takes it, with the same webhook-id."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from standardwebhooks import Webhook as Verifier
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from core.contracts.options import JobOptions
from core.contracts.summarize import SummarizeRun
from core.contracts.webhooks import WebhookOptions
from store import Stores
from tests.support.fake_openai import FakeOpenAI
from tests.support.polling import eventually
from tests.support.processes import kill, start_worker, stop, worker_env
from tests.support.webhook import Webhook
from workflows.summarize import SummarizeWorkflow


async def test_a_delivery_outlives_its_job_and_its_worker(
    dev_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    client = dev_env.client
    env = worker_env(
        client.service_client.config.target_host,
        task_queue,
        fake_openai.base_url,
        tmp_path,
        database_url,
    )
    env["AIJOBS_WEBHOOK_ALLOW_PRIVATE"] = "127.0.0.1"
    with Webhook().running() as receiver:
        receiver.statuses.extend([503, 503, 503])
        first = start_worker(env, tmp_path / "worker-1.log")
        try:
            handle = await client.start_workflow(
                SummarizeWorkflow.run,
                SummarizeRun(
                    text="Webhooks outlive jobs.",
                    options=JobOptions(webhook=WebhookOptions(url=receiver.url)),
                ),
                id=f"hooked-{uuid.uuid4().hex}",
                task_queue=task_queue,
            )
            await asyncio.wait_for(handle.result(), timeout=60)

            async def refused() -> int:
                return len(receiver.received)

            await eventually(refused, until=lambda n: n == 2, timeout_s=30, what="2 attempts")
            # Completed while its receiver still refuses.
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        finally:
            kill(first)
        second = start_worker(env, tmp_path / "worker-2.log")
        try:

            async def delivered() -> int:
                return len(receiver.received)

            await eventually(delivered, until=lambda n: n == 4, timeout_s=60, what="delivery")
        finally:
            stop(second)
    ids = {post.headers["webhook-id"] for post in receiver.received}
    assert len(ids) == 1
    secret = await stores.webhooks.secret("")
    last = receiver.received[-1]
    assert Verifier(secret).verify(last.raw, last.headers)["data"]["id"] == handle.id
