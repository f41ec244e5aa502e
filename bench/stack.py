"""What the benchmarks share: `make run`'s launcher as a subprocess, and waiting for an API
to be ready."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.processes import start_dev_stack


async def wait_ready(url: str, timeout_s: float = 120) -> None:
    """Poll `url`/readyz until it answers 200; fail loudly at the deadline."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=url) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the API at {url} did not become ready in {timeout_s:.0f} s")


@asynccontextmanager
async def dev_stack(
    data_dir: Path, settings: dict[str, str]
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    """`make run`'s launcher on free ports with `settings` (the caller's own AIJOBS_,
    OPENAI_ and TEMPORAL_ variables are not inherited); yields the launcher and the API's
    URL once ready, and stops everything with Ctrl-C's signal."""
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIJOBS_", "OPENAI_", "TEMPORAL_"))
    }
    env |= {
        "AIJOBS_DATA_DIR": str(data_dir),
        "AIJOBS_API_PORT": str(ports["api"]),
        "AIJOBS_DEV_TEMPORAL_PORT": str(ports["temporal"]),
        "AIJOBS_DEV_UI_PORT": str(ports["ui"]),
        **settings,
    }
    stack = start_dev_stack(env, data_dir / "stack.log")
    url = f"http://127.0.0.1:{ports['api']}"
    try:
        await wait_ready(url)
        yield stack, url
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(timeout=60)
