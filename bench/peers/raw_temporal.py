"""The raw Temporal SDK row of bench/compare.py: one workflow per job running four model-call
activities in parallel and one reduce activity, with nothing else (no events, no budgets, no
progress). Run as a worker process:

    python bench/peers/raw_temporal.py ADDRESS TASK_QUEUE MODEL_URL
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import openai


@workflow.defn(name="RawMapReduce")
class RawMapReduce:
    @workflow.run
    async def run(self, prompts: list[str]) -> str:
        options = {"start_to_close_timeout": timedelta(seconds=60)}
        parts = await asyncio.gather(
            *(workflow.execute_activity(call_model, p, **options) for p in prompts)  # type: ignore[call-overload]
        )
        return await workflow.execute_activity(  # type: ignore[call-overload, no-any-return]
            call_model, "Combine: " + " | ".join(parts), **options
        )


_client: openai.AsyncOpenAI | None = None


@activity.defn
async def call_model(prompt: str) -> str:
    assert _client is not None
    reply = await _client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": prompt}]
    )
    return reply.choices[0].message.content or ""


async def serve(address: str, task_queue: str, model_url: str) -> None:
    global _client
    _client = openai.AsyncOpenAI(base_url=model_url, api_key="sk-bench", max_retries=0)
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RawMapReduce],
        activities=[call_model],
        max_concurrent_activities=1000,
    )
    await worker.run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the benchmark stops it with SIGINT
        asyncio.run(serve(*sys.argv[1:4]))
