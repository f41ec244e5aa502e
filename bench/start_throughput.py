"""Sustained job starts: starts per second through one API process and through two, with p50
and p99 start latency, at 50 and 200 concurrent clients.

    .venv/bin/python bench/start_throughput.py [--seconds 15] [--concurrency 50 200]

Everything runs on this machine, each part in its own process as in production: the Temporal
dev server (in memory), the embedded PostgreSQL, one worker (so jobs run and finish as they
would), one or two API processes (uvicorn), and this process with the clients. Each client
starts `summarize` jobs on the offline model back to back, without an Idempotency-Key, and
follows the README's retry rule: a 503 or 429 is sent again with the key the answer named.
First, the floor: the same number of clients calling the Temporal client's `start_workflow`
straight at the server (a workflow no worker runs), with nothing of aijobs in between.
Reported per run: accepted starts per second, p50/p99 latency of accepted starts (retries
included), answers other than 202 by status, and jobs Temporal holds for the owner compared
with starts accepted (they must be equal: no start lost, none doubled).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import wait_ready  # noqa: E402
from core.temporal import DEV_SERVER_FAIRNESS_FLAGS, SEARCH_ATTRIBUTES  # noqa: E402
from tests.support.database import embedded_database  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import start_api, start_worker, stop, worker_env  # noqa: E402
from tests.support.temporal import binary  # noqa: E402

KEY = "bench-key-0123456789"
BODY = {
    "type": "summarize",
    "input": {"text": "Starts are cheap. Jobs are durable.", "model": "offline"},
}


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    refusals: Counter[int] = field(default_factory=Counter)
    accepted: int = 0


async def client(urls: list[str], n: int, until: float, run: Run) -> None:
    url = urls[n % len(urls)]
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            headers: dict[str, str] = {}
            while True:
                response = await http.post("/v1/jobs", json=BODY, headers=headers)
                if response.status_code in (200, 202):
                    break
                run.refusals[response.status_code] += 1
                if response.status_code not in (429, 503):
                    raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
                headers = {"Idempotency-Key": response.headers["idempotency-key"]}
            run.latencies.append(time.perf_counter() - started)
            run.accepted += 1


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


async def measure(urls: list[str], concurrency: int, seconds: float) -> Run:
    run = Run()
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(urls, n, until, run) for n in range(concurrency)))
    return run


async def measure_floor(temporal: Client, concurrency: int, seconds: float) -> Run:
    """StartWorkflowExecution alone, back to back from `concurrency` clients."""
    run = Run()
    until = time.monotonic() + seconds

    async def starter() -> None:
        while time.monotonic() < until:
            started = time.perf_counter()
            await temporal.start_workflow(
                "StartFloor", id=f"floor-{uuid.uuid4().hex}", task_queue="start-floor"
            )
            run.latencies.append(time.perf_counter() - started)
            run.accepted += 1

    await asyncio.gather(*(starter() for _ in range(concurrency)))
    return run


def report(label: str, concurrency: int, seconds: float, run: Run, tail: str) -> None:
    print(
        f"{label:>4} {concurrency:>7} {run.accepted / seconds:>9.1f} "
        f"{quantile(run.latencies, 0.5) * 1000:>7.0f} "
        f"{quantile(run.latencies, 0.99) * 1000:>7.0f}  {tail}",
        flush=True,
    )


async def owner_jobs(temporal: Client) -> int:
    return (await temporal.count_workflows("JobOwner = 'bench'")).count


async def main(args: argparse.Namespace) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(SEARCH_ATTRIBUTES),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=list(DEV_SERVER_FAIRNESS_FLAGS),
    )
    with tempfile.TemporaryDirectory() as tmp, embedded_database(Path(tmp) / "pg") as db:
        settings = worker_env(
            env.client.service_client.config.target_host,
            f"bench-{uuid.uuid4().hex}",
            "",
            Path(tmp),
            db,
        ) | {
            "OPENAI_BASE_URL": "",
            "OPENAI_API_KEY": "",
            "AIJOBS_API_KEYS": f"bench={KEY}",
            "AIJOBS_LOG_LEVEL": "WARNING",
            "AIJOBS_OWNER_RATE_LIMIT": "1000000/minute",
            "AIJOBS_OWNER_MAX_RUNNING": "1000000",
        }
        worker = start_worker(settings, Path(tmp) / "worker.log")
        apis = []
        try:
            ports = [free_port(), free_port()]
            apis = [start_api(settings, port, Path(tmp) / f"api-{port}.log") for port in ports]
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            for url in urls:
                await wait_ready(url)
            print(
                f"{'APIs':>4} {'clients':>7} {'starts/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
                "  refusals   jobs=starts"
            )
            for concurrency in args.concurrency:
                floor = await measure_floor(env.client, concurrency, args.seconds)
                report("raw", concurrency, args.seconds, floor, "(the SDK client alone)")
            for processes in (1, 2):
                for concurrency in args.concurrency:
                    before = await owner_jobs(env.client)
                    run = await measure(urls[:processes], concurrency, args.seconds)
                    # Visibility lags a little: count until it agrees, or 15 s pass.
                    deadline = time.monotonic() + 15
                    while True:
                        held = await owner_jobs(env.client) - before
                        if held == run.accepted or time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.5)
                    refused = dict(run.refusals) or "-"
                    tail = f"{refused!s:<9}  {held == run.accepted} ({held}/{run.accepted})"
                    report(str(processes), concurrency, args.seconds, run, tail)
        finally:
            for api in apis:
                stop(api)
            stop(worker)
    await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    asyncio.run(main(parser.parse_args()))
