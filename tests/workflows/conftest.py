"""Workflow-test fixtures: a worker with every job type on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.contracts.steps import Cassette
from store import Stores
from tests.support.cassettes import replay
from worker import build_worker


@pytest.fixture
async def worker(
    ts_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> AsyncIterator[Worker]:
    async with build_worker(settings, ts_env.client, stores) as running:
        yield running


@pytest.fixture
def replay_cassette(
    ts_env: WorkflowEnvironment, settings: Settings, stores: Stores, worker: Worker
) -> Callable[[Cassette | Path], Awaitable[Any]]:
    """`await replay_cassette(path)`: the job's result, replayed from a cassette file on the
    time-skipping server with no model call (a changed request fails with ReplayMiss)."""
    owner = f"cassettes-{settings.task_queue}"

    async def run(cassette: Cassette | Path) -> Any:
        return await replay(ts_env.client, settings.task_queue, stores, cassette, owner)

    return run
