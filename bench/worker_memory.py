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
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.temporal import free_port  # noqa: E402

KEY = "bench-key"


def worker_rss(stack: subprocess.Popen[bytes]) -> float:
    """MiB resident in the launcher's worker process."""
    for child in psutil.Process(stack.pid).children(recursive=True):
        if "worker.py" in " ".join(child.cmdline()):
            return float(child.memory_info().rss) / 2**20
    raise RuntimeError("no worker process")


async def main(args: argparse.Namespace) -> None:
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIJOBS_", "OPENAI_"))}
        env |= {
            "AIJOBS_DATA_DIR": tmp,
            "AIJOBS_API_PORT": str(ports["api"]),
            "AIJOBS_DEV_TEMPORAL_PORT": str(ports["temporal"]),
            "AIJOBS_DEV_UI_PORT": str(ports["ui"]),
            "AIJOBS_API_KEYS": f"bench={KEY}",
            "AIJOBS_LOG_LEVEL": "WARNING",
            "AIJOBS_OWNER_RATE_LIMIT": "1000000/minute",
            "AIJOBS_OWNER_MAX_RUNNING": "100000",
        }
        log = Path(tmp) / "stack.log"
        with log.open("ab") as out:
            stack = subprocess.Popen(  # noqa: ASYNC220 (starts at once; readiness is polled)
                [sys.executable, str(ROOT / "scripts" / "dev_stack.py")],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        url = f"http://127.0.0.1:{ports['api']}"
        try:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
            ) as http:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("the stack did not become ready")
                    await asyncio.sleep(0.2)
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
                    f"worker RSS with {waiting} jobs waiting: {worker_rss(stack):.0f} MiB",
                    flush=True,
                )
        finally:
            os.killpg(stack.pid, signal.SIGINT)
            stack.wait(timeout=60)


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
