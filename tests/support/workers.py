"""Two workers that share only Temporal and the database: one lost after a side effect, one
that takes over, each recording what its attempts of one activity returned."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from store import Stores
from store.database import create_engine
from worker import build_activities, build_worker

Attempts = list[tuple[str, Any]]


async def attempted(attempts: Attempts) -> int:
    """How many attempts have been recorded so far (a probe for `eventually`)."""
    return len(attempts)


def _replace(
    activities: list[Callable[..., Any]], name: str, make: Callable[[Any], Any]
) -> list[Callable[..., Any]]:
    real = next(a for a in activities if a.__name__ == name)
    # Take the real one's signature and type hints (so inputs decode to the same model), but
    # not its __dict__, which holds its activity definition.
    wrapped = functools.update_wrapper(make(real), real, updated=())
    return [*(a for a in activities if a.__name__ != name), activity.defn(name=name)(wrapped)]


@asynccontextmanager
async def lost_after_running(
    name: str, settings: Settings, env: WorkflowEnvironment, stores: Stores, attempts: Attempts
) -> AsyncIterator[None]:
    """Worker "A": activity `name` does its work, records it, then hangs as a worker that died
    before reporting would; leaving the block stops A and its hung attempt fails over."""

    def make(real: Any) -> Any:
        async def run_then_hang(request: Any) -> Any:
            attempts.append(("A", await real(request)))
            await asyncio.Event().wait()

        return run_then_hang

    # No grace: stopping A hands its hung attempt back to Temporal at once.
    quick = settings.model_copy(update={"shutdown_grace_s": 0})
    activities = _replace(build_activities(quick, stores, env.client), name, make)
    async with build_worker(quick, env.client, stores, activities):
        yield


@asynccontextmanager
async def other_worker(
    name: str, settings: Settings, env: WorkflowEnvironment, database_url: str, attempts: Attempts
) -> AsyncIterator[None]:
    """Worker "B": its own connection pool on the same database, recording `name`'s results."""

    def make(real: Any) -> Any:
        async def run_and_record(request: Any) -> Any:
            result = await real(request)
            attempts.append(("B", result))
            return result

        return run_and_record

    engine = create_engine(database_url, pool_size=2)
    try:
        activities = _replace(build_activities(settings, Stores.on(engine), env.client), name, make)
        async with build_worker(settings, env.client, Stores.on(engine), activities):
            yield
    finally:
        await engine.dispose()
