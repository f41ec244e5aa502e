"""Recorded histories must replay on today's code: a non-deterministic change fails here."""

from __future__ import annotations

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
    from core.contracts.summarize import SummarizeResult, SummarizeRun
    from worker import WORKFLOWS

HISTORY_DIR = Path(__file__).parent / "histories"
HISTORIES = sorted(HISTORY_DIR.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_histories_are_recorded() -> None:
    """The replay check below has something to check."""
    assert [p.name for p in HISTORIES] == [
        "agent_v1.json",
        "agent_v2.json",
        "draft_review_v1_run1.json",
        "draft_review_v1_run2.json",
        "draft_review_v2_run1.json",
        "draft_review_v2_run2.json",
        "extract_v1.json",
        "extract_v2.json",
        "summarize_v1.json",
        "summarize_v2.json",
        "summarize_v3.json",
    ]


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    """Each recorded run replays without a non-determinism error."""
    replayer = Replayer(
        workflows=list(WORKFLOWS),
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
        await replayer.replay_workflow(load(HISTORY_DIR / "summarize_v2.json"))
