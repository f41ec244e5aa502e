"""Rolling out an incompatible change with Worker Versioning, as docs/write-a-job.md tells an
operator to: a run started on build v1 stays pinned to v1 after v2 becomes current, while new
runs start on v2; both finish."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.contracts.draft_review import DraftReviewRun
from core.contracts.human import Submission
from store import Stores
from tests.support.polling import eventually
from tests.support.temporal import binary
from worker import build_worker
from workflows.draft_review import DraftReviewWorkflow

pytestmark = pytest.mark.e2e


async def temporal_cli(env: WorkflowEnvironment, *args: str) -> str:
    """The bundled `temporal` CLI against the test's dev server; fails with its output."""
    address = env.client.service_client.config.target_host
    process = await asyncio.create_subprocess_exec(
        binary("temporal"),
        *args,
        "--address",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    return text


async def make_current(env: WorkflowEnvironment, deployment: str, build_id: str) -> None:
    """What the operator runs once the new build's workers poll (retried until they do)."""

    async def attempt() -> bool:
        try:
            await temporal_cli(
                env,
                "worker",
                "deployment",
                "set-current-version",
                "--deployment-name",
                deployment,
                "--build-id",
                build_id,
                "--yes",
            )
        except AssertionError:
            return False
        return True

    await eventually(attempt, until=bool, timeout_s=30, what=f"{build_id} made current")


async def pinned_build(handle: WorkflowHandle[Any, Any]) -> str:
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    assert info.behavior == 1  # VERSIONING_BEHAVIOR_PINNED
    return str(info.deployment_version.build_id)


async def test_runs_stay_on_their_build_while_new_runs_take_the_new_one(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    """v1 current: a draft review starts and waits for its reviewer. v2 becomes current: the
    waiting run stays pinned to v1, a new run starts on v2, and both complete when answered."""
    deployment = f"aijobs-{uuid.uuid4().hex[:8]}"
    v1 = settings.model_copy(update={"worker_deployment": deployment, "worker_build_id": "v1"})
    v2 = settings.model_copy(update={"worker_deployment": deployment, "worker_build_id": "v2"})

    async def start() -> WorkflowHandle[Any, Any]:
        return await dev_env.client.start_workflow(
            DraftReviewWorkflow.run,
            DraftReviewRun(brief="Announce the new office hours."),
            id=f"versioned-{uuid.uuid4().hex}",
            task_queue=settings.task_queue,
        )

    async def approve(handle: WorkflowHandle[Any, Any]) -> None:
        await eventually(lambda: handle.query(DraftReviewWorkflow.waiting_for), what="question")
        await handle.execute_update(
            DraftReviewWorkflow.submit_answer,
            Submission(name="review", value={"decision": "approve"}, answered_by="ops"),
        )
        await handle.result()

    async with build_worker(v1, dev_env.client, stores):
        await make_current(dev_env, deployment, "v1")
        old = await start()
        await eventually(lambda: old.query(DraftReviewWorkflow.waiting_for), what="question")
        assert await pinned_build(old) == "v1"
        async with build_worker(v2, dev_env.client, stores):
            await make_current(dev_env, deployment, "v2")
            new = await start()
            await approve(new)
            assert await pinned_build(new) == "v2"
            await approve(old)
            assert await pinned_build(old) == "v1"
    described = await temporal_cli(
        dev_env, "worker", "deployment", "describe", "--name", deployment
    )
    assert "v2" in described
