"""Agent throughput on the shared database: steps per second with one and with two worker
processes, the claim check's cost per step, and worker memory with many jobs in flight.

Everything runs on this machine: an in-memory Temporal dev server, the embedded PostgreSQL,
the fake model server, and `python worker.py` subprocesses (as production runs them).

    .venv/bin/python bench/agent_steps.py [--jobs 40] [--steps 10] [--latency-ms 50]
                                          [--rss-jobs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402

from core.contracts.agent import AgentRun  # noqa: E402
from store import ConversationStore  # noqa: E402
from store.database import create_engine  # noqa: E402
from tests.support.database import embedded_database  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply  # noqa: E402
from tests.support.processes import start_worker, stop, worker_env  # noqa: E402
from tests.support.temporal import start_dev_server  # noqa: E402
from workflows.agent import AgentWorkflow  # noqa: E402


def responder(steps: int, latency_s: float, gate: threading.Event | None) -> Any:
    """Calculator calls until the last step, then an answer; held at the gate if one is given."""

    def respond(request: dict[str, Any]) -> Reply:
        if gate is not None and not gate.is_set():
            return Reply.held(gate, "released")
        done = sum(1 for m in request["messages"] if m["role"] == "tool")
        reply = (
            Reply.calls(("calculator", {"expression": f"{done} + 1"}))
            if done < steps - 1
            else Reply.ok(f"Counted to {done}.")
        )
        reply.delay_s = latency_s
        return reply

    return respond


async def started(log: Path) -> bool:
    text = await asyncio.to_thread(lambda: log.read_text() if log.exists() else "")
    return '"event": "worker.started"' in text


async def wait_for(probe: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not await probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not reached in {timeout_s}s")
        await asyncio.sleep(0.05)


def conversation_ms(logs: list[Path]) -> list[float]:
    values = []
    for log in logs:
        for line in log.read_text().splitlines():
            if line.startswith("{") and '"conversation_ms"' in line:
                values.append(float(json.loads(line)["conversation_ms"]))
    return values


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for {pid}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_jobs(client: Client, queue: str, jobs: int, steps: int) -> float:
    """Start `jobs` agents at once; seconds until the last one answered."""
    begun = time.perf_counter()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                AgentWorkflow.run,
                AgentRun(goal="Count.", tools=["calculator"], max_steps=steps),
                id=f"bench-agent-{uuid.uuid4().hex}",
                task_queue=queue,
            )
            for _ in range(jobs)
        )
    )
    results = await asyncio.gather(*(h.result() for h in handles))
    assert all(r.outcome == "answered" for r in results), [r.outcome for r in results]
    return time.perf_counter() - begun


async def throughput(
    client: Client, fake: FakeOpenAI, url: str, home: Path, workers: int, args: argparse.Namespace
) -> tuple[float, list[float]]:
    queue = f"bench-{uuid.uuid4().hex}"
    target = client.service_client.config.target_host
    logs = [home / f"throughput-{workers}-{i}.log" for i in range(workers)]
    processes = [
        start_worker(worker_env(target, queue, fake.base_url, home, url), log) for log in logs
    ]
    try:
        for log in logs:
            await wait_for(lambda log=log: started(log), "worker started")
        seconds = await run_jobs(client, queue, args.jobs, args.steps)
    finally:
        for process in processes:
            stop(process)
    return args.jobs * args.steps / seconds, conversation_ms(logs)


async def memory(client: Client, fake: FakeOpenAI, url: str, home: Path, jobs: int) -> float:
    """Worker RSS while `jobs` agents each have a model call in flight."""
    gate = threading.Event()
    fake.responder = responder(2, 0.0, gate)
    queue = f"bench-{uuid.uuid4().hex}"
    env = worker_env(client.service_client.config.target_host, queue, fake.base_url, home, url)
    env["AIJOBS_MAX_CONCURRENT_ACTIVITIES"] = str(jobs + 10)
    log = home / "memory.log"
    process = start_worker(env, log)
    try:
        await wait_for(lambda: started(log), "worker started")
        run = asyncio.create_task(run_jobs(client, queue, jobs, 2))

        async def all_in_flight() -> bool:
            return fake.in_flight >= jobs

        await wait_for(all_in_flight, f"{jobs} calls in flight", timeout_s=120)
        resident = rss_mb(process.pid)
        gate.set()
        await run
    finally:
        gate.set()
        stop(process)
    return resident


async def claim_check_alone(url: str, steps: int = 200) -> list[float]:
    """One agent step's store work (write new messages and read the conversation, then write
    the reply), one step at a time on a warm pool: the cost without any load around it."""
    engine = create_engine(url, pool_size=2)
    store = ConversationStore(engine)
    conversation = f"alone-{uuid.uuid4().hex}"
    tool_result = {"role": "tool", "tool_call_id": "call_0", "content": "x" * 200}
    reply = {"role": "assistant", "content": "y" * 200}
    timings = []
    try:
        for step in range(steps):
            begun = time.perf_counter()
            await store.extend(conversation, step * 2, [tool_result])
            await store.put(conversation, step * 2 + 1, [reply])
            timings.append((time.perf_counter() - begun) * 1000)
    finally:
        await engine.dispose()
    return timings


async def main(args: argparse.Namespace) -> None:
    env = await start_dev_server()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            embedded_database(Path(tmp)) as url,
            FakeOpenAI(responder(args.steps, args.latency_ms / 1000, None)).running() as fake,
        ):
            rows = []
            for workers in (1, 2):
                fake.responder = responder(args.steps, args.latency_ms / 1000, None)
                rate, store = await throughput(env.client, fake, url, Path(tmp), workers, args)
                rows.append((workers, rate, store))
            resident = await memory(env.client, fake, url, Path(tmp), args.rss_jobs)
            alone = await claim_check_alone(url)
    finally:
        await env.shutdown()

    print(
        f"{args.jobs} agent jobs x {args.steps} model steps, fake model {args.latency_ms} ms, "
        "in-memory dev server, embedded PostgreSQL, worker subprocesses; one run:"
    )
    print("| workers | agent steps/s | claim check per step p50 | p99 |")
    print("|---|---|---|---|")
    for workers, rate, store in rows:
        print(
            f"| {workers} | {rate:.1f} | {statistics.median(store):.1f} ms "
            f"| {percentile(store, 99):.1f} ms |"
        )
    print(
        f"claim check alone (a conversation growing to 400 messages, one step at a time): "
        f"p50 {statistics.median(alone):.1f} ms, p99 {percentile(alone, 99):.1f} ms"
    )
    print(f"worker RSS with {args.rss_jobs} agent jobs in flight: {resident:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rss-jobs", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
