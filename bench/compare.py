"""aijobs beside its peers on the same work, in one run on this machine.

    .venv/bin/python bench/compare.py [--jobs 200] [--latency-ms 500]
        [--rows asyncio,celery,temporal,aijobs]

The work: `--jobs` jobs, each four model calls in parallel and then one reduce call (5 calls
per job), against one fake OpenAI server (a real HTTP server in this process) that answers
each call after `--latency-ms`. The rows, each started cold and measured from the first
submission to the last result:

- asyncio: plain asyncio and the `openai` client, no durability (the limit);
- celery: Celery + Redis (the machine's Redis, database 15), a chord per job, a thread pool
  of 400 in a worker process;
- temporal: the raw Temporal SDK, one workflow with five activities per job, a worker
  process, on a dev server persisting to a SQLite file;
- aijobs: `make run`'s launcher (dev server on a SQLite file, embedded PostgreSQL, worker,
  API), jobs started through the API as `summarize` jobs planned to four chunks and one
  combine call, each watched on its event stream (SSE), its result read once.

Printed: each row's makespan and its ratio to plain asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import dev_stack  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply  # noqa: E402
from tests.support.temporal import binary, free_port  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/15"
PARTS = 4


def prompts(job: int) -> list[str]:
    # Every job's text differs, so no cache can answer for another job.
    return [f"Job {job}, part {n}: " + "word " * 155 for n in range(PARTS)]


async def plain_asyncio(model_url: str, jobs: int) -> float:
    client = openai.AsyncOpenAI(base_url=model_url, api_key="sk-bench", max_retries=0)

    async def ask(prompt: str) -> str:
        reply = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": prompt}]
        )
        return reply.choices[0].message.content or ""

    async def job(n: int) -> str:
        parts = await asyncio.gather(*(ask(p) for p in prompts(n)))
        return await ask("Combine: " + " | ".join(parts))

    started = time.perf_counter()
    await asyncio.gather(*(job(n) for n in range(jobs)))
    return time.perf_counter() - started


async def celery_redis(model_url: str, jobs: int) -> float:
    from celery import chord

    from bench.peers.celery_app import app, call_model, reduce_parts

    env = os.environ | {"BENCH_MODEL_URL": model_url, "BENCH_REDIS_URL": REDIS_URL}
    command = [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker"]
    worker = subprocess.Popen(  # noqa: ASYNC220 (starts at once; readiness is polled)
        [*command, "--pool", "threads", "--concurrency", "400", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app.control.purge()
        await _until(lambda: asyncio.to_thread(lambda: bool(app.control.ping(timeout=0.5))))
        started = time.perf_counter()
        results = [
            chord(call_model.s(p) for p in prompts(n))(reduce_parts.s()) for n in range(jobs)
        ]
        await asyncio.to_thread(lambda: [r.get(timeout=600) for r in results])
        return time.perf_counter() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


async def raw_temporal(model_url: str, jobs: int, data: Path) -> float:
    port = free_port()
    server = _dev_server(port, data / "raw-temporal.db")
    queue = f"raw-{uuid.uuid4().hex}"
    worker = None
    try:
        client = await _connect(f"127.0.0.1:{port}")
        command = [sys.executable, "-m", "bench.peers.raw_temporal", f"127.0.0.1:{port}"]
        worker = subprocess.Popen(  # noqa: ASYNC220 (starts at once)
            [*command, queue, model_url],
            cwd=ROOT,
        )
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    "RawMapReduce", prompts(n), id=f"raw-{n}-{uuid.uuid4().hex}", task_queue=queue
                )
                for n in range(jobs)
            )
        )
        await asyncio.gather(*(h.result() for h in handles))
        return time.perf_counter() - started
    finally:
        for process in (worker, server):
            if process is not None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)


async def aijobs(model_url: str, jobs: int, data: Path) -> float:
    settings = {
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "sk-bench",
        "AIJOBS_MODEL": "fake-model",
        "AIJOBS_LOG_LEVEL": "WARNING",
        "AIJOBS_OWNER_RATE_LIMIT": "1000000/minute",
        "AIJOBS_OWNER_MAX_RUNNING": "100000",
        "AIJOBS_MAX_CONCURRENT_ACTIVITIES": "1000",
        "AIJOBS_API_KEYS": "bench=bench-key",
    }
    async with (
        dev_stack(data / "aijobs", settings) as (_, url),
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": "Bearer bench-key"}, timeout=120
        ) as http,
    ):
        started = time.perf_counter()
        ids = await asyncio.gather(*(_start_summary(http, n) for n in range(jobs)))
        print(f"    (all {jobs} started after {time.perf_counter() - started:.2f} s)")
        await asyncio.gather(*(_completed(http, job_id) for job_id in ids))
        return time.perf_counter() - started


async def _start_summary(http: httpx.AsyncClient, n: int) -> str:
    # Four chunks of one paragraph each, then one combine call: the same five calls.
    text = "\n\n".join(prompts(n))
    body: dict[str, Any] = {
        "type": "summarize",
        "input": {"text": text, "chunk_chars": 1000, "max_words": 30},
        # The fake model gives every job the same parts, so the combine calls would be cache
        # hits: off, for the same five calls the other rows make.
        "options": {"cache": "off"},
    }
    response = await http.post("/v1/jobs", json=body, headers={"Idempotency-Key": f"j{n}"})
    if response.status_code not in (200, 202):
        raise RuntimeError(f"start {n}: {response.status_code} {response.text}")
    return str(response.json()["id"])


async def _completed(http: httpx.AsyncClient, job_id: str) -> None:
    """Wait as a client should: on the job's event stream (read from the database, no load
    on Temporal), then read the result once."""
    path = f"/v1/jobs/{job_id}/events?types=completed,failed,cancelled"
    async with http.stream("GET", path) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                break
    # The event is written just before the run closes: the result follows within moments.
    job = (await http.get(f"/v1/jobs/{job_id}")).json()
    while job["status"] == "running":
        await asyncio.sleep(0.1)
        job = (await http.get(f"/v1/jobs/{job_id}")).json()
    if job["status"] != "completed":
        raise RuntimeError(f"{job_id} ended {job['status']}: {job.get('error')}")
    if job["result"]["usage"]["llm_calls"] != PARTS + 1:
        raise RuntimeError(f"{job_id} made {job['result']['usage']['llm_calls']} calls")


def _dev_server(port: int, db: Path) -> subprocess.Popen[bytes]:
    command = [binary("temporal"), "server", "start-dev", "--headless", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--db-filename", str(db), "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _connect(address: str) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError("not ready in time")
        await asyncio.sleep(0.2)


async def main(args: argparse.Namespace) -> None:
    reply = Reply.ok("A short part summary.", delay_s=args.latency_ms / 1000)
    rows = args.rows.split(",")
    with FakeOpenAI(lambda _: reply).running() as fake, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        runs: dict[str, Callable[[], Awaitable[float]]] = {
            "asyncio": lambda: plain_asyncio(fake.base_url, args.jobs),
            "celery": lambda: celery_redis(fake.base_url, args.jobs),
            "temporal": lambda: raw_temporal(fake.base_url, args.jobs, data),
            "aijobs": lambda: aijobs(fake.base_url, args.jobs, data),
        }
        names = {
            "asyncio": "plain asyncio + openai (no durability)",
            "celery": "Celery + Redis, 400 threads",
            "temporal": "raw Temporal SDK, dev server on SQLite",
            "aijobs": "aijobs through its API under make run",
        }
        print(f"{args.jobs} jobs x {PARTS + 1} calls, model latency {args.latency_ms} ms")
        base = None
        for row in rows:
            seconds = await runs[row]()
            base = base or seconds if row == "asyncio" else base
            ratio = f"{seconds / base:.1f}x" if base else "-"
            print(f"  {names[row]:<42} {seconds:7.2f} s  {ratio:>6}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=500)
    parser.add_argument("--rows", default="asyncio,celery,temporal,aijobs")
    asyncio.run(main(parser.parse_args()))
