"""Heartbeating while an activity waits on something slow, so a dead worker is noticed fast, and
carrying what an attempt must not lose to the next attempt in the heartbeat's details.

The details are `[note]`, or `[note, {"unsaved": {...}}]` while some answer the model gave waits
for the database: Temporal hands the last details to the next attempt, which uses them before
asking the model again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import structlog
from temporalio import activity

log = structlog.get_logger(__name__)

# Well inside any heartbeat timeout the workflows set.
HEARTBEAT_EVERY_S = 2.0
# What the details may carry (Temporal refuses a heartbeat over 2 MB and warns past 512 KB); an
# answer past this waits for the database in its attempt alone.
MAX_CARRIED_CHARS = 256_000


@dataclass
class _Beat:
    """One attempt's heartbeat: the note the UI shows, and the answers it carries."""

    note: str | None = None
    unsaved: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def details(self) -> list[Any]:
        if self.unsaved:
            return [self.note or "", {"unsaved": self.unsaved}]
        return [self.note] if self.note else []

    def send(self) -> None:
        activity.heartbeat(*self.details())


_beat: ContextVar[_Beat | None] = ContextVar("heartbeat", default=None)


def say(note: str | None) -> None:
    """Set (or clear) what the running block's heartbeats carry, and beat at once."""
    beat = _beat.get() or _Beat()
    beat.note = note
    beat.send()


def carry(key: str, value: dict[str, Any]) -> None:
    """Keep `value` (JSON) in this attempt's heartbeats until `drop(key)`. Beats at once: the
    point is that it reaches Temporal before the attempt can die."""
    beat = _beat.get()
    if beat is None or key in beat.unsaved:
        return
    size = len(json.dumps(value))
    if sum(beat.sizes.values()) + size > MAX_CARRIED_CHARS:
        log.warning("heartbeat.too_big_to_carry", key=key, chars=size)
        return
    beat.unsaved[key], beat.sizes[key] = value, size
    beat.send()


def drop(key: str) -> None:
    beat = _beat.get()
    if beat is not None and beat.unsaved.pop(key, None) is not None:
        del beat.sizes[key]
        beat.send()


def carried(key: str) -> dict[str, Any] | None:
    """What the previous attempt carried under `key`, if it did."""
    for detail in activity.info().heartbeat_details:
        if isinstance(detail, dict) and isinstance(found := detail.get("unsaved"), dict):
            value = found.get(key)
            return value if isinstance(value, dict) else None
    return None


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat until the block ends; cancellation from the workflow arrives through it.
    Blocks nest: an inner one (a call inside a batch) shares the outer one's beat."""
    if _beat.get() is not None:
        yield
        return
    beat = _Beat()
    token = _beat.set(beat)

    async def beating() -> None:
        # The first beat waits too: a call that ends sooner (most) costs Temporal no
        # heartbeat at all, and the timeout still runs from the activity's start.
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            beat.send()

    task = asyncio.create_task(beating())
    try:
        yield
    finally:
        task.cancel()
        _beat.reset(token)
