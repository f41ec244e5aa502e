"""An agent's worker is SIGKILLed mid-loop: a new worker resumes without repeating completed
model calls or tool calls."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.contracts.agent import AgentRun
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.processes import kill, start_worker, stop, worker_env
from workflows.agent import AgentWorkflow


async def test_killed_worker_resumes_the_loop(
    dev_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    """Steps 1 and 2 (calculator, create_ticket) complete; step 3 is in flight at the kill."""
    gate = threading.Event()

    def responder(request: dict[str, Any]) -> Reply:
        done = sum(1 for m in request["messages"] if m["role"] == "tool")
        if done == 0:
            return Reply.calls(("calculator", {"expression": "6 * 7"}))
        if done == 1:
            return Reply.calls(("create_ticket", {"title": "Answer", "body": "42"}))
        if gate.is_set():
            return Reply.ok("Filed a ticket with the answer 42.")
        return Reply.held(gate, "never delivered: the worker is dead")

    fake_openai.responder = responder
    env = worker_env(
        dev_env.client.service_client.config.target_host,
        task_queue,
        fake_openai.base_url,
        tmp_path,
        database_url,
    )
    log = tmp_path / "worker.log"
    first = start_worker(env, log)
    handle = await dev_env.client.start_workflow(
        AgentWorkflow.run,
        AgentRun(
            goal="Compute 6*7 and file it.",
            tools=["calculator", "create_ticket"],
            preapproved_tools=["create_ticket"],
        ),
        id=f"agent-crash-{uuid.uuid4().hex}",
        task_queue=task_queue,
    )
    try:
        await eventually(
            lambda: _progress(fake_openai),
            until=lambda seen: seen == (3, 1),
            timeout_s=60,
            what="step 3 asked and in flight",
        )
        kill(first)
    finally:
        gate.set()
        if first.poll() is None:
            kill(first)

    second = start_worker(env, log)
    try:
        result = await handle.result()
    finally:
        assert stop(second) == 0, log.read_text()

    assert result.outcome == "answered"
    assert [(s.tool, s.status) for s in result.steps] == [
        ("calculator", "ok"),
        ("create_ticket", "ok"),
    ]
    per_step = Counter(
        sum(1 for m in r.body["messages"] if m["role"] == "tool") for r in fake_openai.requests
    )
    assert per_step == {0: 1, 1: 1, 2: 2}, "a completed model call was paid for again"
    assert len(await stores.tickets.for_job(handle.id)) == 1


async def _progress(fake: FakeOpenAI) -> tuple[int, int]:
    """(requests received, requests being answered)."""
    return len(fake.requests), fake.in_flight
