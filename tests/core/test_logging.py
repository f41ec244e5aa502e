"""Log lines carry Temporal context, never prompts or keys at INFO, and replay logs nothing."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.llm import LLMActivities
from activities.token_stream import TokenStreams
from core.config import Settings
from core.contracts.llm import ChatMessage, ChatRequest
from core.contracts.summarize import SummarizeRun
from core.logging import configure_logging
from store import Stores
from tests.conftest import CallerFor
from tests.support.activities import step_env
from tests.support.fake_openai import FakeOpenAI, Reply
from worker import build_worker
from workflows.summarize import SummarizeWorkflow

HISTORY = Path(__file__).parents[1] / "workflows" / "histories" / "summarize.json"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging("INFO", json=True, stream=buffer)
    yield buffer
    configure_logging("INFO", json=True)


def parsed(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_activity_lines_carry_context_and_no_secrets(
    log_lines: io.StringIO,
    fake_openai: FakeOpenAI,
    stores: Stores,
    caller_for: CallerFor,
) -> None:
    """`llm.completed` names workflow, run, activity, attempt, model; no prompt, answer, key."""
    fake_openai.script(Reply.ok("THE-ANSWER-TEXT"))
    client = openai.AsyncOpenAI(
        api_key="sk-SECRET-KEY", base_url=fake_openai.base_url, max_retries=0
    )
    request = ChatRequest(messages=[ChatMessage(role="user", content="THE-PROMPT-TEXT")])
    tokens = TokenStreams(stores.events, timedelta(seconds=0.1))
    llm = LLMActivities(caller_for(client), "fake-model", tokens)
    await step_env().run(llm.complete_chat, request)
    [line] = [e for e in parsed(log_lines) if e["event"] == "llm.completed"]
    assert line["activity"] == "unknown"  # ActivityEnvironment's default activity info
    assert {"workflow_id", "run_id", "attempt", "model", "input_tokens"} <= set(line)
    raw = log_lines.getvalue()
    for secret in ("sk-SECRET-KEY", "THE-PROMPT-TEXT", "THE-ANSWER-TEXT"):
        assert secret not in raw


async def test_replay_logs_nothing_again(log_lines: io.StringIO) -> None:
    """Replaying a history (as after a worker restart) writes no workflow log line twice."""
    replayer = Replayer(workflows=[SummarizeWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(WorkflowHistory.from_json("replayed", HISTORY.read_text()))
    assert [e for e in parsed(log_lines) if e.get("logger") == "temporalio.workflow"] == []


async def test_workflow_lines_carry_workflow_context(
    log_lines: io.StringIO, ts_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    """A live run logs through workflow.logger once, with workflow id, run id and type."""
    async with build_worker(settings, ts_env.client, stores):
        handle = await ts_env.client.start_workflow(
            SummarizeWorkflow.run,
            SummarizeRun(text="Log me once."),
            id=f"log-{uuid.uuid4().hex}",
            task_queue=settings.task_queue,
        )
        await handle.result()
    [line] = [e for e in parsed(log_lines) if e["event"] == "summarize.split"]
    assert line["workflow_id"] == handle.id
    assert line["run_id"] == handle.result_run_id
    assert line["workflow_type"] == "SummarizeWorkflow"
    assert line["chunks"] == 1
