"""Token latency and event throughput of the SSE path: model server → activity → Workflow
Stream → API → SSE client.

    .venv/bin/python bench/stream_latency.py [--tokens 200] [--streams 100]

1. Latency: one summarize job whose model streams `--tokens` words, 20 ms apart. For each
   token, the time from the fake model server writing it to the SSE client reading it;
   p50 and p99 are reported.
2. Throughput: `--streams` jobs at once, each followed by its own SSE client through one API
   process; events delivered per second of wall time.

Everything runs on this machine: the dev server (in memory), one worker and one API process
(uvicorn) in this process, the fake model server in a thread. Numbers are for 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.logging import configure_logging  # noqa: E402
from store import Stores  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.api_server import serve_api  # noqa: E402
from tests.support.database import embedded_stores  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply  # noqa: E402
from tests.support.sse import events  # noqa: E402
from tests.support.temporal import start_dev_server  # noqa: E402
from worker import build_worker  # noqa: E402


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


async def token_latency(http: httpx.AsyncClient, fake: FakeOpenAI, tokens: int) -> list[float]:
    words = " ".join(f"w{i}" for i in range(tokens))
    fake.script(Reply.ok(words, delay_s=tokens * 0.02))
    fake.emitted.clear()
    created = await http.post("/v1/jobs", json={"type": "summarize", "input": {"text": "Text."}})
    received: list[float] = []
    async for event in events(http, created.json()["id"], params={"types": "token,completed"}):
        if event.event == "token":
            received.append(time.monotonic())
    assert len(received) == len(fake.emitted) == tokens, (len(received), len(fake.emitted))
    return [(got - sent) * 1000 for got, sent in zip(received, fake.emitted, strict=True)]


async def throughput(http: httpx.AsyncClient, streams: int) -> tuple[int, float]:
    async def follow() -> int:
        created = await http.post("/v1/jobs", json={"type": "summarize", "input": {"text": "Hi."}})
        return len([e async for e in events(http, created.json()["id"])])

    started = time.perf_counter()
    counts = await asyncio.gather(*(follow() for _ in range(streams)))
    return sum(counts), time.perf_counter() - started


async def _measure(
    env: WorkflowEnvironment,
    settings: Settings,
    stores: Stores,
    fake: FakeOpenAI,
    tokens: int,
    streams: int,
) -> tuple[list[float], int, float]:
    async with (
        build_worker(settings, env.client, stores),
        serve_api(settings, env.client) as url,
        httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": "Bearer bench-key"},
            timeout=120,
            limits=httpx.Limits(max_connections=streams + 10),
        ) as http,
    ):
        latencies = await token_latency(http, fake, tokens)
        total, seconds = await throughput(http, streams)
    return latencies, total, seconds


async def main(tokens: int, streams: int) -> None:
    env = await start_dev_server()

    def reply(request: dict[str, Any]) -> Reply:
        answer = default_reply(request)
        answer.text = " ".join(f"t{i}" for i in range(20))
        answer.delay_s = 0.2
        return answer

    with (
        FakeOpenAI(reply).running() as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        async with embedded_stores(Path(tmp)) as (database_url, stores):
            settings = make_settings(
                openai_base_url=fake.base_url,
                openai_api_key="k",
                task_queue=f"bench-{uuid.uuid4().hex}",
                api_keys="bench=bench-key",
                data_dir=tmp,
                database_url=database_url,
                max_concurrent_activities=200,
            )
            latencies, total, seconds = await _measure(env, settings, stores, fake, tokens, streams)
    await env.shutdown()

    print(f"token latency, model server write -> SSE client read ({tokens} tokens, 20 ms apart):")
    print(
        f"  p50 {quantile(latencies, 0.5):.0f} ms, p99 {quantile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    print(f"{streams} concurrent SSE streams (one job each, 20 tokens over 0.2 s):")
    print(f"  {total} events in {seconds:.1f} s = {total / seconds:.0f} events/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--streams", type=int, default=100)
    args = parser.parse_args()
    configure_logging("WARNING")
    asyncio.run(main(args.tokens, args.streams))
