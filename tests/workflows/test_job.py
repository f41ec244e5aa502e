"""The job SDK's promises that no single job shows: one registration, runs started outside the
API taking the current steps, and one progress for the query, the API and the events."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.contracts.job_type import JobType
from core.contracts.summarize import (
    SummarizeInput,
    SummarizeProgress,
    SummarizeResult,
    SummarizeRun,
)
from core.jobs import JOB_TYPES
from store import Stores
from tests.support.fake_openai import FakeOpenAI
from tests.support.temporal import binary, history_text
from worker import build_worker
from workflows.registry import RegistryMismatch, matched
from workflows.summarize import SummarizeWorkflow


@pytest.mark.unit
def test_every_declared_job_type_has_its_workflow_and_back() -> None:
    """The worker registers exactly the declared job types: a declaration without a workflow,
    or a job workflow without a declaration, stops it with both named."""
    assert {w.__name__ for w in matched(JOB_TYPES)} == {
        "AgentWorkflow",
        "AnswerWorkflow",
        "ClassifyWorkflow",
        "DraftReviewWorkflow",
        "ExtractWorkflow",
        "IngestWorkflow",
        "SummarizeWorkflow",
    }
    ghost = JobType(
        name="ghost", workflow_type="GhostWorkflow", input_model=SummarizeInput, description=""
    )
    with pytest.raises(RegistryMismatch, match="GhostWorkflow"):
        matched({**JOB_TYPES, "ghost": ghost})
    without_classify = {name: job for name, job in JOB_TYPES.items() if name != "classify"}
    with pytest.raises(RegistryMismatch, match=r"no JobType declared.*ClassifyWorkflow"):
        matched(without_classify)


@pytest.mark.integration
async def test_a_run_started_by_the_temporal_cli_takes_the_current_steps(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    stores: Stores,
) -> None:
    """`temporal workflow start` with the job's JSON input (no API, no options, no owner)
    runs the same steps as any job: it completes, and its history has no patch marker."""
    workflow_id = f"cli-{uuid.uuid4().hex}"
    text = "\n\n".join(f"Part {i} " + "word " * 40 for i in range(3))
    async with build_worker(settings, dev_env.client, stores):
        started = await asyncio.create_subprocess_exec(
            binary("temporal"),
            "workflow",
            "start",
            "--address",
            dev_env.client.service_client.config.target_host,
            "--type",
            "SummarizeWorkflow",
            "--task-queue",
            settings.task_queue,
            "--workflow-id",
            workflow_id,
            "--input",
            json.dumps({"text": text, "chunk_chars": 300, "max_words": 20}),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await started.communicate()
        assert started.returncode == 0, output.decode()
        handle = dev_env.client.get_workflow_handle(workflow_id, result_type=SummarizeResult)
        result = await handle.result()
    assert result.chunk_count == 3
    assert len(fake_openai.requests) == 4  # three chunks, one combine
    text_of_history = history_text(await handle.fetch_history())
    assert "core_patch" not in text_of_history
    assert "TemporalChangeVersion" not in text_of_history


@pytest.mark.integration
async def test_the_query_the_database_and_the_events_show_one_progress(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    stores: Stores,
    worker: Worker,
) -> None:
    """What the `progress` query answers, what the API reads from the database and the last
    `stage` event are the same progress."""
    text = "\n\n".join(f"Part {i} " + "word " * 40 for i in range(3))
    handle = await ts_env.client.start_workflow(
        SummarizeWorkflow.run,
        SummarizeRun(text=text, chunk_chars=300),
        id=f"progress-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )
    result = await handle.result()
    queried: SummarizeProgress = await handle.query("progress", result_type=SummarizeProgress)
    head = await stores.events.head(handle.id)
    assert head is not None
    assert head.progress == queried.model_dump(mode="json")
    events = await stores.events.read(handle.id, after=-1)
    last = next(e.data for e in reversed(events) if e.type == "stage")
    assert (last["stage"], last["completed"], last["total"]) == ("done", 4, 4)
    assert queried.usage == result.usage
