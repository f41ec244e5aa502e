"""A worker killed with SIGKILL mid-job: a new worker finishes it, repaying no completed call."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.contracts.summarize import SummarizeRun
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply
from tests.support.polling import eventually
from tests.support.processes import kill, start_worker, stop, worker_env
from workflows.summarize import SummarizeWorkflow

CHUNKS = 6
TEXT = "\n\n".join(f"Section {i} " + "text " * 35 for i in range(CHUNKS))


async def chunks_logged(stores: Stores, workflow_id: str) -> list[str]:
    """The chunk calls whose answers are kept: the batch writes a call's step_completed event
    after its journal entry and ledger line."""
    events = await stores.events.read(workflow_id, after=-1)
    return [e.data["step"] for e in events if e.type == "step_completed"]


async def test_killed_worker_loses_nothing_and_repays_nothing(
    dev_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    """The six chunk calls are one batch activity. Two finish, three hang, SIGKILL; a new
    worker retries the batch, which asks the model again only for the chunks that had not
    completed."""
    gate = threading.Event()
    answered = 0
    lock = threading.Lock()

    def responder(request: dict[str, Any]) -> Reply:
        nonlocal answered
        with lock:
            answered += 1
            first_two = answered <= 2
        if first_two or gate.is_set():
            return default_reply(request)
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
    workflow_id = f"crash-{uuid.uuid4().hex}"
    handle = await dev_env.client.start_workflow(
        SummarizeWorkflow.run,
        SummarizeRun(text=TEXT, chunk_chars=200, max_parallel=3),
        id=workflow_id,
        task_queue=task_queue,
    )
    try:
        await eventually(
            lambda: chunks_logged(stores, workflow_id),
            until=lambda steps: len(steps) == 2,
            timeout_s=60,
            what="two chunk calls completed",
        )
        done_before_kill = [r.user_text for r in fake_openai.completed]
        assert len(done_before_kill) == 2
        await eventually(
            lambda: _in_flight(fake_openai), until=lambda n: n == 3, what="three calls in flight"
        )
        kill(first)
    finally:
        gate.set()  # from now on the model answers at once; held replies go to a dead socket
        if first.poll() is None:
            kill(first)

    second = start_worker(env, log)
    try:
        result = await handle.result()
    finally:
        assert stop(second) == 0, log.read_text()

    assert result.chunk_count == CHUNKS
    asked = Counter(r.user_text for r in fake_openai.requests if "Combine" not in r.system_text)
    assert len(asked) == CHUNKS
    for text in done_before_kill:
        assert asked[text] == 1, "a chunk completed before the crash was paid for again"
    assert sum(asked.values()) == CHUNKS + 3  # only the three in-flight calls were repeated
    assert '"worker.stopping"' in log.read_text()
    assert "Traceback" not in log.read_text()


async def _in_flight(fake: FakeOpenAI) -> int:
    return fake.in_flight
