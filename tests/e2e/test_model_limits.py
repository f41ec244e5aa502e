"""A model's limit holds for the whole fleet: two worker processes together send it no more
than its requests per window."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from core.contracts.summarize import SummarizeRun
from tests.support.fake_openai import FakeOpenAI
from tests.support.polling import eventually
from tests.support.processes import start_worker, stop, worker_env
from workflows.summarize import SummarizeWorkflow

# 30 requests per 3-second window (the window is a setting, 60 s by default).
WINDOW_S = 3.0
RPM = 30
# 40 paragraphs of about 150 characters: one chunk each at chunk_chars=200.
TEXT = "\n\n".join(
    f"Paragraph {i} says something. " + "More words follow here. " * 5 for i in range(40)
)


async def test_two_workers_keep_a_model_within_its_rate(
    dev_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
) -> None:
    """40 calls over two workers with `rpm:30`: every window at the model server holds at most
    30 of them, and the job completes (a wait is not a failure)."""
    client = dev_env.client
    workers = []
    for name in ("a", "b"):
        env = worker_env(
            client.service_client.config.target_host,
            task_queue,
            fake_openai.base_url,
            tmp_path / name,
            database_url,
        ) | {
            "AIJOBS_MODEL_LIMITS": f"fake-model=rpm:{RPM}",
            "AIJOBS_MODEL_LIMIT_WINDOW_S": str(WINDOW_S),
        }
        log = tmp_path / f"worker-{name}.log"
        workers.append((start_worker(env, log), log))
    try:
        for _, log in workers:
            await eventually(_started(log), what="worker started", timeout_s=60)
        handle = await client.start_workflow(
            SummarizeWorkflow.run,
            SummarizeRun(text=TEXT, chunk_chars=200, max_parallel=32),
            id=f"limits-{task_queue}",
            task_queue=task_queue,
        )
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        for process, _ in workers:
            stop(process)

    arrivals = sorted(r.at for r in fake_openai.requests)
    assert len(arrivals) == result.usage.llm_calls >= 40
    busiest = max(sum(1 for t in arrivals if start <= t < start + WINDOW_S) for start in arrivals)
    assert busiest <= RPM, f"{busiest} requests reached the model within {WINDOW_S}s"
    assert arrivals[-1] - arrivals[0] >= WINDOW_S * 0.9, "no call was held back"
    logs = [log.read_text() for _, log in workers]
    assert all('"event": "llm.completed"' in text for text in logs), "one worker idled"


def _started(log: Path) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        text = await asyncio.to_thread(lambda: log.read_text() if log.exists() else "")
        return '"event": "worker.started"' in text

    return started
