"""Fair shares: how long owner B's one-call job takes while owner A floods the queue, with and
without Temporal's fairness keys turned on in the server.

    .venv/bin/python bench/fairness.py [--flood-jobs 63] [--slots 50] [--latency-s 1]

Owner A starts `--flood-jobs` summarize jobs of 40 chunks, 32 in flight each (about 2,000
one-second calls queued on a worker with `--slots` activity slots); once every slot is busy,
owner B starts a job of one call. Everything goes through the real API; the worker, the API
and the fake model server run in this process, the dev server (in memory) beside it.
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

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.logging import configure_logging  # noqa: E402
from core.temporal import DEV_SERVER_FAIRNESS_FLAGS, SEARCH_ATTRIBUTES  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.api_server import serve_api  # noqa: E402
from tests.support.database import embedded_stores  # noqa: E402
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply  # noqa: E402
from tests.support.polling import eventually  # noqa: E402
from tests.support.temporal import binary  # noqa: E402
from worker import build_worker  # noqa: E402

FLOOD_TEXT = " ".join(f"Flood sentence {i} is long enough to matter here." for i in range(160))


async def one_run(fair: bool, args: argparse.Namespace, fake: FakeOpenAI, tmp: Path) -> float:
    """Seconds owner B's job took to complete."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(SEARCH_ATTRIBUTES),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=list(DEV_SERVER_FAIRNESS_FLAGS) if fair else [],
    )
    try:
        async with embedded_stores(tmp / f"pg-{fair}") as (database_url, stores):
            settings = make_settings(
                openai_base_url=fake.base_url,
                openai_api_key="k",
                task_queue=f"bench-{uuid.uuid4().hex}",
                api_keys="a=key-a-0123456789,b=key-b-0123456789",
                data_dir=str(tmp),
                database_url=database_url,
                max_concurrent_activities=args.slots,
                owner_rate_limit="100000/minute",
            )
            async with (
                build_worker(settings, env.client, stores),
                serve_api(settings, env.client) as url,
                httpx.AsyncClient(base_url=url, timeout=120) as http,
            ):
                flood = {
                    "type": "summarize",
                    "input": {"text": FLOOD_TEXT, "chunk_chars": 200, "max_parallel": 32},
                    # The jobs are identical: the cache would answer most of their calls.
                    "options": {"cache": "off"},
                }
                a = {"Authorization": "Bearer key-a-0123456789"}
                created = await asyncio.gather(
                    *(http.post("/v1/jobs", json=flood, headers=a) for _ in range(args.flood_jobs))
                )
                await eventually(
                    lambda: _value(fake.in_flight),
                    until=lambda n: n >= args.slots * 0.9,
                    timeout_s=60,
                    what="every slot busy",
                )
                b = {"Authorization": "Bearer key-b-0123456789"}
                started = time.perf_counter()
                small = await http.post(
                    "/v1/jobs", json={"type": "summarize", "input": {"text": "One."}}, headers=b
                )
                job = small.json()["id"]

                async def status() -> str:
                    return str((await http.get(f"/v1/jobs/{job}", headers=b)).json()["status"])

                await eventually(
                    status, until=lambda s: s == "completed", timeout_s=300, what="B's job"
                )
                elapsed = time.perf_counter() - started
                await asyncio.gather(
                    *(http.post(f"/v1/jobs/{c.json()['id']}/cancel", headers=a) for c in created)
                )
            return elapsed
    finally:
        await env.shutdown()


async def _value(value: int) -> int:
    return value


async def main(args: argparse.Namespace) -> None:
    def slow(request: dict[str, Any]) -> Reply:
        reply = default_reply(request)
        reply.delay_s = args.latency_s
        return reply

    results = {}
    with FakeOpenAI(slow).running() as fake, tempfile.TemporaryDirectory() as tmp:
        for fair in (False, True):
            results[fair] = await one_run(fair, args, fake, Path(tmp))
    queued = args.flood_jobs * 32
    print(
        f"owner B's one-call job under owner A's flood ({queued} calls of {args.latency_s:g} s "
        f"queued on {args.slots} slots):"
    )
    print(f"  without fairness keys: {results[False]:.1f} s")
    print(f"  with fairness keys:    {results[True]:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood-jobs", type=int, default=63)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--latency-s", type=float, default=1.0)
    configure_logging("WARNING")
    asyncio.run(main(parser.parse_args()))
