"""Recorded histories must replay on today's code: a non-deterministic change fails here."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

# The sandbox re-imports this module for the workflow defined below; pass heavy modules through.
with workflow.unsafe.imports_passed_through():
    from core.contracts.llm import TokenUsage
    from core.contracts.schedules import SCHEDULED_RUN_WORKFLOW
    from core.contracts.summarize import SummarizeResult, SummarizeRun
    from core.jobs import JOB_TYPES
    from worker import all_workflows

HISTORY_DIR = Path(__file__).parent / "histories"
HISTORIES = sorted(HISTORY_DIR.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_job_type_has_a_recorded_history() -> None:
    """The replay check below covers every declared job type and a schedule's run, whatever
    the folder holds."""
    recorded = {
        json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for p in HISTORIES
    }
    assert {job.workflow_type for job in JOB_TYPES.values()} | {SCHEDULED_RUN_WORKFLOW} <= recorded


def test_no_history_carries_a_patch_marker() -> None:
    """Runs follow the current steps: no recorded run (one per job type, started as the
    API, a Schedule or `temporal workflow start` would) takes a `workflow.patched` branch."""
    for path in HISTORIES:
        text = path.read_text()
        assert "core_patch" not in text, path.name
        assert "TemporalChangeVersion" not in text, path.name


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    """Each recorded run replays without a non-determinism error."""
    replayer = Replayer(
        workflows=all_workflows(),
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(load(path))


@workflow.defn(name="SummarizeWorkflow")
class SummarizeWithoutCombine:
    """A deliberately incompatible change: same name, but a timer where a model call was."""

    @workflow.run
    async def run(self, input: SummarizeRun) -> SummarizeResult:
        await workflow.sleep(timedelta(seconds=1))
        return SummarizeResult(summary="", chunk_count=0, model="", usage=TokenUsage())


async def test_replay_catches_an_incompatible_change() -> None:
    """The check can fail: replaying against changed workflow code raises."""
    replayer = Replayer(workflows=[SummarizeWithoutCombine], data_converter=pydantic_data_converter)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(load(HISTORY_DIR / "summarize.json"))
