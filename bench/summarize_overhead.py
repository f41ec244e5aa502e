"""What durability costs: summarize jobs through Temporal vs plain asyncio, same fake model.

    .venv/bin/python bench/summarize_overhead.py [--jobs 20] [--chunks 5] [--latency-ms 50]
        [--sqlite]

Both sides split the same texts, call the same fake Chat Completions server (a real HTTP
server with a fixed latency per call) with the same fan-out, and combine the partials. The
Temporal side runs the real SummarizeWorkflow on a dev server with an in-process worker.
Reported: wall time of each side, their ratio, and the added cost per model call.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.chunking import combine_fan_in, plan_combine, split_text  # noqa: E402
from core.contracts.summarize import SummarizeRun  # noqa: E402
from core.logging import configure_logging  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.database import embedded_stores  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply  # noqa: E402
from tests.support.temporal import binary  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows.summarize import SummarizeWorkflow  # noqa: E402

MAX_WORDS = 50


def texts(jobs: int, chunks: int) -> list[str]:
    # ~190 characters per paragraph: one paragraph per 200-character chunk.
    return [
        "\n\n".join(f"Job {j} part {c} " + "word " * 35 for c in range(chunks)) for j in range(jobs)
    ]


async def plain_asyncio(client: openai.AsyncOpenAI, text: str, parallel: int) -> str:
    """The same map-reduce with no durability: what a request handler would do."""
    limit = asyncio.Semaphore(parallel)

    async def ask(system: str, user: str) -> str:
        async with limit:
            response = await client.chat.completions.create(
                model="fake-model",
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                max_completion_tokens=MAX_WORDS * 2 + 64,
            )
        return response.choices[0].message.content or ""

    parts = await asyncio.gather(*(ask("Summarize.", chunk) for chunk in split_text(text, 200)))
    # The combine tree the workflow plans, so both sides make the same calls.
    for sizes in plan_combine(len(parts), combine_fan_in(200, MAX_WORDS)):
        groups, start = [], 0
        for size in sizes:
            groups.append(parts[start : start + size])
            start += size
        parts = await asyncio.gather(*(ask("Combine.", "\n\n".join(g)) for g in groups))
    return parts[0]


async def main(jobs: int, chunks: int, latency_ms: int, sqlite: bool) -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    def slow(request: dict[str, Any]) -> Reply:
        reply = default_reply(request)
        reply.delay_s = latency_ms / 1000
        return reply

    extra_args: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(slow).running() as fake:
        if sqlite:
            extra_args = ["--db-filename", str(Path(tmp) / "bench.db")]
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"),
            dev_server_extra_args=extra_args,
            data_converter=pydantic_data_converter,
            ui=False,
            dev_server_log_level="error",
        )
        client = openai.AsyncOpenAI(api_key="k", base_url=fake.base_url, max_retries=0)
        inputs = texts(jobs, chunks)

        started = time.perf_counter()
        await asyncio.gather(*(plain_asyncio(client, text, 8) for text in inputs))
        plain_s = time.perf_counter() - started
        plain_calls = len(fake.requests)

        settings = make_settings(
            openai_base_url=fake.base_url,
            openai_api_key="k",
            task_queue=f"bench-{uuid.uuid4().hex}",
            model="fake-model",
        )
        async with (
            embedded_stores(Path(tmp) / "postgres") as (_, stores),
            build_worker(settings, env.client, stores),
        ):
            started = time.perf_counter()
            handles = await asyncio.gather(
                *(
                    env.client.start_workflow(
                        SummarizeWorkflow.run,
                        SummarizeRun(text=text, chunk_chars=200, max_words=MAX_WORDS),
                        id=f"bench-{uuid.uuid4().hex}",
                        task_queue=settings.task_queue,
                    )
                    for text in inputs
                )
            )
            results = await asyncio.gather(*(h.result() for h in handles))
            temporal_s = time.perf_counter() - started
        temporal_calls = sum(r.usage.llm_calls for r in results)
        await env.shutdown()

    assert temporal_calls == plain_calls, (temporal_calls, plain_calls)
    store = "SQLite file" if sqlite else "in-memory"
    print(f"{jobs} jobs x {chunks} chunks, {temporal_calls} model calls, {latency_ms} ms per call")
    print("| path | wall time | calls/s |")
    print("|---|---|---|")
    print(f"| plain asyncio | {plain_s:.2f} s | {plain_calls / plain_s:.0f} |")
    print(f"| Temporal ({store}) | {temporal_s:.2f} s | {temporal_calls / temporal_s:.0f} |")
    print(
        f"ratio {temporal_s / plain_s:.2f}x; "
        f"added per model call {(temporal_s - plain_s) / temporal_calls * 1000:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--sqlite", action="store_true", help="persist to a SQLite file")
    args = parser.parse_args()
    configure_logging("WARNING")
    asyncio.run(main(args.jobs, args.chunks, args.latency_ms, args.sqlite))
