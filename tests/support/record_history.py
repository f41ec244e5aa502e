"""Record a workflow history for the replay test: `python -m tests.support.record_history`.

Runs a summarize job (multi-chunk, hierarchical combine, one rate-limited retry) on the dev
server against the fake model, and writes its history beside the replay test. Re-record only
on purpose: the old files are what keep in-flight runs safe from non-deterministic changes.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.temporal import start_dev_server
from worker import build_worker
from workflows.summarize import SummarizeInput, SummarizeWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "workflows" / "histories"


async def record(name: str) -> Path:
    env = await start_dev_server()
    try:
        with FakeOpenAI().running() as fake:
            fake.script(Reply.error(429, "slow down", retry_after="1"))
            task_queue = f"record-{uuid.uuid4().hex}"
            settings = make_settings(
                openai_base_url=fake.base_url,
                openai_api_key="sk-record",
                task_queue=task_queue,
                model="fake-model",
            )
            text = "\n\n".join(f"Part {i} " + "word " * 28 for i in range(5))
            async with build_worker(settings, env.client):
                handle = await env.client.start_workflow(
                    SummarizeWorkflow.run,
                    SummarizeInput(text=text, chunk_chars=200, max_words=20, max_parallel=2),
                    id=f"{name}-{uuid.uuid4().hex[:8]}",
                    task_queue=task_queue,
                )
                await handle.result()
                history = await handle.fetch_history()
    finally:
        await env.shutdown()
    path = HISTORIES / f"{name}.json"
    path.write_text(history.to_json())
    return path


if __name__ == "__main__":
    print(asyncio.run(record(sys.argv[1] if len(sys.argv) > 1 else "summarize_v1")))
