"""Live events under load: token latency, and 1,000 SSE clients through one API process.

    .venv/bin/python bench/stream_latency.py [--tokens 200] [--jobs 100] [--clients-per-job 10]

Everything runs on this machine, each part in its own process as in production: the Temporal
dev server (in memory), the embedded PostgreSQL, one worker, one API process (uvicorn), and
this process with the fake model server (threads) and the SSE clients.

1. Latency: one summarize job whose model streams `--tokens` words 20 ms apart, one SSE
   client. Per word, the time from the model server writing it to the client reading it.
2. Fan-out: `--jobs` jobs, each streaming `--job-tokens` words over `--job-seconds`, run
   three times: with nobody watching, with one SSE client per job, and with
   `--clients-per-job` clients per job.
   Reported: events delivered per second, the API process's CPU and peak RSS, and the Temporal
   server's CPU and frontend requests in each run (the clients should cost it nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import text
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import wait_ready  # noqa: E402
from core.logging import configure_logging  # noqa: E402
from core.temporal import SEARCH_ATTRIBUTES  # noqa: E402
from store.database import create_engine  # noqa: E402
from tests.support.database import embedded_database  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import start_api, start_worker, stop, worker_env  # noqa: E402
from tests.support.sse import events  # noqa: E402
from tests.support.temporal import binary  # noqa: E402

KEY = "bench-key-0123456789"
METRICS_SETTLE_S = 3.0
TERMINAL = (b"event: completed", b"event: failed", b"event: cancelled")


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


def frontend_requests(metrics_url: str) -> dict[str, int]:
    """Requests the Temporal frontend has served so far, by operation."""
    counts: dict[str, int] = {}
    for line in httpx.get(metrics_url).text.splitlines():
        if line.startswith("service_requests{") and 'service_name="frontend"' in line:
            operation = line.split('operation="', 1)[1].split('"', 1)[0]
            counts[operation] = counts.get(operation, 0) + int(float(line.rsplit(" ", 1)[1]))
    return counts


def requests_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}


@dataclass
class Usage:
    """CPU seconds a process used over a phase, and its peak RSS."""

    cpu_s: float
    peak_rss_mb: float


class Sampler:
    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self._start = self._cpu()
        self._peak = 0.0

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        self._peak = max(self._peak, self._process.memory_info().rss / 2**20)

    def done(self) -> Usage:
        self.sample()
        return Usage(self._cpu() - self._start, self._peak)


async def token_latency(http: httpx.AsyncClient, fake: FakeOpenAI, tokens: int) -> list[float]:
    fake.emitted.clear()
    created = await http.post("/v1/jobs", json={"type": "summarize", "input": {"text": "latency"}})
    received: list[float] = []
    async for event in events(http, created.json()["id"], params={"types": "token,completed"}):
        if event.event == "token":
            now = time.monotonic()
            received.extend(now for _ in event.data["text"].split())
    assert len(received) == len(fake.emitted) == tokens, (len(received), len(fake.emitted))
    return [(got - sent) * 1000 for got, sent in zip(received, fake.emitted, strict=True)]


async def sse_client(port: int, job_id: str) -> int:
    """A lean SSE reader (raw socket), so 1,000 of them fit beside the stack: counts events."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write(
        f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {KEY}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    count = 0
    try:
        while line := await reader.readline():
            if line.startswith(b"event: "):
                count += 1
                if line.rstrip().startswith(TERMINAL):
                    break
    finally:
        writer.close()
    return count


async def run_jobs(
    http: httpx.AsyncClient,
    database_url: str,
    jobs: int,
    clients_per_job: int,
    port: int,
    samplers: list[Sampler],
) -> tuple[float, int]:
    """Start `jobs` jobs and wait, through the database (never Temporal), until all ended."""
    started = time.perf_counter()
    created = await asyncio.gather(
        *(
            http.post("/v1/jobs", json={"type": "summarize", "input": {"text": "fan-out"}})
            for _ in range(jobs)
        )
    )
    ids = [c.json()["id"] for c in created]
    readers = [
        asyncio.create_task(sse_client(port, i)) for i in ids for _ in range(clients_per_job)
    ]
    engine = create_engine(database_url, pool_size=1)
    try:
        while True:
            for sampler in samplers:
                sampler.sample()
            async with engine.connect() as conn:
                ended = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM job_events WHERE job_id = ANY(:ids) "
                            "AND type IN ('completed', 'failed', 'cancelled')"
                        ),
                        {"ids": ids},
                    )
                ).scalar_one()
            if ended >= jobs:
                break
            await asyncio.sleep(0.5)
        delivered = sum(await asyncio.gather(*readers))
    finally:
        await engine.dispose()
    return time.perf_counter() - started, delivered


def replies(tokens: int, job_tokens: int, job_seconds: float) -> Callable[[dict[str, Any]], Reply]:
    def reply(request: dict[str, Any]) -> Reply:
        answer = default_reply(request)
        if "latency" in str(request["messages"]):
            answer.text = " ".join(f"w{i}" for i in range(tokens))
            answer.delay_s = tokens * 0.02
        else:
            answer.text = " ".join(f"t{i}" for i in range(job_tokens))
            answer.delay_s = job_seconds
        return answer

    return reply


async def main(args: argparse.Namespace) -> None:
    metrics_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(SEARCH_ATTRIBUTES),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=["--metrics-port", str(metrics_port)],
    )
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    temporal = next(p for p in psutil.Process().children(recursive=True) if "temporal" in p.name())
    reply = replies(args.tokens, args.job_tokens, args.job_seconds)
    with (
        FakeOpenAI(reply).running() as fake,
        tempfile.TemporaryDirectory() as tmp,
        embedded_database(Path(tmp) / "pg") as database_url,
    ):
        settings = worker_env(
            env.client.service_client.config.target_host,
            f"bench-{uuid.uuid4().hex}",
            fake.base_url,
            Path(tmp),
            database_url,
        ) | {
            "AIJOBS_MAX_CONCURRENT_ACTIVITIES": "200",
            "AIJOBS_API_KEYS": f"bench={KEY}",
            "AIJOBS_LOG_LEVEL": "WARNING",
        }
        port = free_port()
        worker = start_worker(settings, Path(tmp) / "worker.log")
        api = start_api(settings, port, Path(tmp) / "api.log")
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=120,
                limits=httpx.Limits(max_connections=args.jobs + 10),
            ) as http:
                await wait_ready(f"http://127.0.0.1:{port}")
                latencies = await token_latency(http, fake, args.tokens)
                runs: dict[int, tuple[float, int, Usage, Usage, dict[str, int]]] = {}
                for clients in (0, 1, args.clients_per_job):
                    api_cpu, temporal_cpu = Sampler(psutil.Process(api.pid)), Sampler(temporal)
                    before = frontend_requests(metrics_url)
                    seconds, delivered = await run_jobs(
                        http, database_url, args.jobs, clients, port, [api_cpu, temporal_cpu]
                    )
                    # The server publishes its counters a moment after the calls they count.
                    await asyncio.sleep(METRICS_SETTLE_S)
                    rpcs = requests_between(before, frontend_requests(metrics_url))
                    runs[clients] = (
                        seconds,
                        delivered,
                        api_cpu.done(),
                        temporal_cpu.done(),
                        rpcs,
                    )
        finally:
            stop(api)
            stop(worker)
    await env.shutdown()

    print(f"token latency, model writes -> SSE client reads ({args.tokens} tokens, 20 ms apart):")
    print(
        f"  p50 {quantile(latencies, 0.5):.0f} ms, p99 {quantile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    print(
        f"{args.jobs} jobs, each streaming {args.job_tokens} tokens over {args.job_seconds:.0f} s:"
    )
    for clients, (seconds, delivered, api_use, temporal_use, rpcs) in runs.items():
        watchers = clients * args.jobs
        print(
            f"  {watchers:>5} SSE clients: {seconds:.1f} s, {delivered} events delivered "
            f"({delivered / seconds:.0f}/s); API CPU {api_use.cpu_s:.1f} s "
            f"({100 * api_use.cpu_s / seconds:.0f}% of a core), peak RSS "
            f"{api_use.peak_rss_mb:.0f} MB; Temporal server CPU {temporal_use.cpu_s:.1f} s"
        )
        busiest = sorted(rpcs.items(), key=lambda item: -item[1])
        print(f"        Temporal frontend requests: {sum(rpcs.values())}: {dict(busiest)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--clients-per-job", type=int, default=10)
    parser.add_argument("--job-tokens", type=int, default=200)
    parser.add_argument("--job-seconds", type=float, default=20.0)
    configure_logging("WARNING")
    asyncio.run(main(parser.parse_args()))
