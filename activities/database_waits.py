"""Waiting out an application-database outage inside an attempt, instead of failing it: a write
that holds an answer the model gave (and was paid for) is worth more than the attempt's time.

Only outages are waited out (store.database.is_outage); a statement the database refuses raises
at once. The caller beats (activities.heartbeat) while it waits, so the workflow can still
cancel it, a dead worker is still noticed, and the activity's timeout still bounds the wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from store.database import is_outage

log = structlog.get_logger(__name__)

T = TypeVar("T")

FIRST_WAIT_S = 0.25
# Short enough that a job moves on within seconds of the database's return.
LONGEST_WAIT_S = 3.0


async def until_stored(
    operation: Callable[[], Awaitable[T]],
    what: str,
    on_outage: Callable[[], None] | None = None,
) -> T:
    """`operation()`'s result, retried with backoff for as long as the database is away.
    `on_outage` runs once, at the first failure (to carry what must not be lost)."""
    wait_s = FIRST_WAIT_S
    since: float | None = None
    while True:
        try:
            result = await operation()
        except Exception as err:
            if not is_outage(err):
                raise
            if since is None:
                since = time.monotonic()
                log.warning("database.waiting", what=what, reason=type(err).__name__)
                if on_outage is not None:
                    on_outage()
            # Pacing the retries of an operation, inside an activity: not synchronisation.
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, LONGEST_WAIT_S)
            continue
        if since is not None:
            log.info("database.back", what=what, waited_s=round(time.monotonic() - since, 1))
        return result
