"""The worker's memory with many jobs in flight.

    .venv/bin/python bench/worker_memory.py [--jobs 1000]

`make run`'s launcher (dev server, embedded PostgreSQL, one worker, one API) runs on this
machine; `--jobs` draft_review jobs are started through the API (offline model) and left
waiting for their review, each a workflow the worker keeps in its cache. Printed: the worker
process's RSS before any job, and once every job waits.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import dev_stack  # noqa: E402

KEY = "bench-key-0123456789"


def worker_rss(stack: subprocess.Popen[bytes]) -> float:
    """MiB resident in the launcher's worker process."""
    for child in psutil.Process(stack.pid).children(recursive=True):
        if "worker.py" in " ".join(child.cmdline()):
            return float(child.memory_info().rss) / 2**20
    raise RuntimeError("no worker process")


async def main(args: argparse.Namespace) -> None:
    settings = {
        "AIJOBS_API_KEYS": f"bench={KEY}",
        "AIJOBS_LOG_LEVEL": "WARNING",
        "AIJOBS_OWNER_RATE_LIMIT": "1000000/minute",
        "AIJOBS_OWNER_MAX_RUNNING": "100000",
    }
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            dev_stack(Path(tmp), settings) as (stack, url),
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
            ) as http,
        ):
            print(f"worker RSS before any job: {worker_rss(stack):.0f} MiB", flush=True)
            limit = asyncio.Semaphore(50)

            async def start(n: int) -> None:
                body = {"type": "draft_review", "input": {"brief": f"Notice {n}."}}
                async with limit:
                    response = await http.post("/v1/jobs", json=body)
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

            await asyncio.gather(*(start(n) for n in range(args.jobs)))
            deadline = time.monotonic() + 600
            while True:
                waiting = await _count(http)
                if waiting >= args.jobs or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)
            print(
                f"worker RSS with {waiting} jobs waiting: {worker_rss(stack):.0f} MiB", flush=True
            )


async def _count(http: httpx.AsyncClient) -> int:
    """Jobs listed as waiting, by paging through (the API lists, it does not count)."""
    total, token = 0, None
    while True:
        params: dict[str, str | int] = {"status": "waiting_for_input", "limit": 100}
        if token:
            params["page_token"] = token
        page = (await http.get("/v1/jobs", params=params)).json()
        total += len(page["jobs"])
        token = page.get("next_page_token")
        if not token:
            return total


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
