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

Printed: each row's makespan and its ratio to plain asyncio, and for the two Temporal rows
the history events per model call, by event type, over every job of the run.
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
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import dev_stack  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.temporal import binary  # noqa: E402

QUIET = ("--log-level", "error")
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
    port, metrics_port = free_port(), free_port()
    server = _dev_server(port, metrics_port, data / "raw-temporal.db")
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
        seconds = time.perf_counter() - started
        print_cpu(server.pid, worker.pid)
        await print_rpcs(f"http://127.0.0.1:{metrics_port}/metrics", jobs)
        await print_history(client, [h.id for h in handles])
        return seconds
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
        "AIJOBS_API_KEYS": "bench=bench-key-0123456789",
        "AIJOBS_DEV_TEMPORAL_PORT": str(free_port()),
    }
    async with (
        dev_stack(data / "aijobs", settings) as (stack, url),
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": "Bearer bench-key-0123456789"}, timeout=120
        ) as http,
    ):
        started = time.perf_counter()
        ids = await asyncio.gather(*(_start_summary(http, n) for n in range(jobs)))
        print(f"    (all {jobs} started after {time.perf_counter() - started:.2f} s)")
        await asyncio.gather(*(_completed(http, job_id) for job_id in ids))
        seconds = time.perf_counter() - started
        print_cpu(stack.pid, also=str(data / "aijobs" / "postgres"))
        await print_rpcs(_metrics_url(data / "aijobs" / "stack.log"), jobs)
        client = await _connect(f"127.0.0.1:{settings['AIJOBS_DEV_TEMPORAL_PORT']}")
        await print_history(client, ids)
        return seconds


async def print_rpcs(metrics_url: str, jobs: int) -> None:
    """Requests the Temporal server's frontend has served, per model call and by operation,
    from its own Prometheus counters (long polls included: each is one round trip)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(metrics_url)).text
    operations: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("service_requests{") and 'service_name="frontend"' in line:
            labels, value = line.rsplit(" ", 1)
            operation = labels.split('operation="', 1)[1].split('"', 1)[0]
            operations[operation] += int(float(value))
    calls = jobs * (PARTS + 1)
    top = ", ".join(f"{name} {count / jobs:.1f}" for name, count in operations.most_common(8))
    print(f"    frontend RPCs: {operations.total() / calls:.1f} per model call; per job: {top}")


def _metrics_url(stack_log: Path) -> str:
    """The dev server prints where its metrics are; `make run` passes that through."""
    for line in stack_log.read_text(errors="replace").splitlines():
        if line.startswith("Temporal Metrics:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError(f"no 'Temporal Metrics:' line in {stack_log}")


def print_cpu(*roots: int, also: str | None = None) -> None:
    """CPU seconds the processes under `roots` (and under any process whose command line
    holds `also`: the embedded PostgreSQL detaches from its launcher) have used so far, by
    what they run (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        stats[int(entry.name)] = (_role(command), (int(fields[11]) + int(fields[12])) / ticks)
        if also is not None and also.encode() in b" ".join(command):
            roots = (*roots, int(entry.name))
    used: dict[str, float] = {}
    todo = list(set(roots))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if pid in stats:
            used[stats[pid][0]] = used.get(stats[pid][0], 0.0) + stats[pid][1]
    shown = ", ".join(
        f"{name} {cpu:.1f}" for name, cpu in sorted(used.items(), key=lambda u: -u[1]) if cpu >= 0.1
    )
    print(f"    CPU seconds: {shown}")


def _role(command: list[bytes]) -> str:
    text = b" ".join(command).decode(errors="replace")
    for needle, role in [
        ("worker.py", "worker"),
        ("peers.raw_temporal", "worker"),
        ("uvicorn", "API"),
        ("temporal", "Temporal"),
        ("postgres", "PostgreSQL"),
        ("dev_stack", "launcher"),
    ]:
        if needle in text:
            return role
    return "other"


async def print_history(client: Client, workflow_ids: list[str]) -> None:
    """History events per model call over `workflow_ids`, and the most frequent types."""
    types: Counter[str] = Counter()
    retries = 0
    for workflow_id in workflow_ids:
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            types[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
            if event.HasField("activity_task_started_event_attributes"):
                retries += event.activity_task_started_event_attributes.attempt - 1
    calls = len(workflow_ids) * (PARTS + 1)
    print(
        f"    history: {types.total() / calls:.1f} events per model call;"
        f" {retries} activity retries in all"
    )
    for name, count in types.most_common():
        print(f"      {count / len(workflow_ids):5.1f} per job  {name}")


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


def _dev_server(port: int, metrics_port: int, db: Path) -> subprocess.Popen[bytes]:
    command = [binary("temporal"), "server", "start-dev", "--headless", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--metrics-port", str(metrics_port), "--db-filename", str(db), *QUIET],
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
