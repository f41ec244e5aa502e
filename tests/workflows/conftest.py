"""Workflow-test fixtures: a worker with every job type on the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from store import Stores
from worker import build_worker


@pytest.fixture
async def worker(
    ts_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> AsyncIterator[Worker]:
    async with build_worker(settings, ts_env.client, stores) as running:
        yield running
