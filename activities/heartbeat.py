"""Heartbeating while an activity waits on something slow, so a dead worker is noticed fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from temporalio import activity

# Well inside any heartbeat timeout the workflows set.
HEARTBEAT_EVERY_S = 2.0


# What the beats say while the block runs (the UI shows it on the pending activity).
_note: ContextVar[list[str]] = ContextVar("heartbeat_note")


def say(note: str | None) -> None:
    """Set (or clear) what the running block's heartbeats carry, and beat at once."""
    holder = _note.get(None)
    if holder is not None:
        holder[:] = [note] if note else []
    activity.heartbeat(*([note] if note else []))


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat until the block ends; cancellation from the workflow arrives through it."""
    holder: list[str] = []
    token = _note.set(holder)

    async def beat() -> None:
        # The first beat waits too: a call that ends sooner (most) costs Temporal no
        # heartbeat at all, and the timeout still runs from the activity's start.
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            activity.heartbeat(*holder)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        _note.reset(token)
