"""`make run`'s launcher as a test drives it: on free ports, in a data dir of the test's own,
started until its API answers, and stopped with Ctrl-C as a terminal sends it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.processes import start_dev_stack

# Settings the launcher must not inherit from whoever runs the tests.
INHERITED = (
    "TEMPORAL_ADDRESS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AIJOBS_API_KEYS",
    "AIJOBS_DATABASE_URL",
    "AIJOBS_ENCRYPTION_KEYS",
    "AIJOBS_CODEC_KEYS",
)


def launch(
    data_dir: Path, ports: dict[str, int], log: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The launcher with this test's data dir and ports, plus `extra` settings."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env |= {
        # Read by the application; the dev server, which rejects `console`, must not see it.
        "OTEL_TRACES_EXPORTER": "console",
        "AIJOBS_DATA_DIR": str(data_dir),
        "AIJOBS_API_PORT": str(ports["api"]),
        "AIJOBS_DEV_TEMPORAL_PORT": str(ports["temporal"]),
        "AIJOBS_DEV_UI_PORT": str(ports["ui"]),
        "AIJOBS_TASK_QUEUE": f"dev-stack-{ports['api']}",
        # One worker unless a test asks for make run's default (one per core, "0"): a stack's
        # start is mostly its workers', and the suite runs stacks beside other tests.
        "AIJOBS_DEV_WORKERS": "1",
        **(extra or {}),
    }
    return start_dev_stack(env, log)


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def new_ports() -> dict[str, int]:
    return {"api": free_port(), "temporal": free_port(), "ui": free_port()}


async def start_stack(
    data_dir: Path, ports: dict[str, int], log: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`make run`'s launcher, returned once its API answers /readyz."""
    stack = launch(data_dir, ports, log, extra)
    try:
        await eventually(
            lambda: ready(f"http://localhost:{ports['api']}"), timeout_s=60, what="stack ready"
        )
    except BaseException:
        interrupt(stack, log)
        raise
    return stack


def interrupt(process: subprocess.Popen[bytes], log: Path, *, group: bool = True) -> float:
    """Ctrl-C as a terminal sends it (to the launcher's whole process group), or to the
    launcher alone (one signal per child, from the launcher); the seconds the stack took to
    stop."""
    started = time.monotonic()
    if group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 0, log.read_text()
    return time.monotonic() - started
