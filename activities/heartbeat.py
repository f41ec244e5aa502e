"""Heartbeating while an activity waits on something slow, so a dead worker is noticed fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import activity

# Well inside any heartbeat timeout the workflows set.
HEARTBEAT_EVERY_S = 2.0


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat until the block ends; cancellation from the workflow arrives through it."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
