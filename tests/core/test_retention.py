"""Event retention as a Temporal Schedule: created once at start-up, and its run trims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.contracts.job_events import TrimmedJobEvents
from core.retention import RETENTION_EVERY, ensure_retention_schedule, schedule_id
from store import Stores
from store.job_events import NewEvent
from tests.support.polling import eventually
from worker import build_worker


async def test_the_schedule_is_created_once_and_its_run_trims(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    """The first worker creates the hourly Schedule, the next finds it; a triggered run removes
    tokens past their retention and keeps the rest."""
    client = dev_env.client
    assert await ensure_retention_schedule(client, settings.task_queue)
    assert not await ensure_retention_schedule(client, settings.task_queue)
    schedule = client.get_schedule_handle(schedule_id(settings.task_queue))
    described = await schedule.describe()
    assert described.schedule.spec.intervals[0].every == RETENTION_EVERY
    assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)

    job = f"job-{uuid.uuid4().hex}"
    await stores.events.append(
        job,
        [NewEvent("a", "stage", {"type": "stage"}), NewEvent("b", "token", {"type": "token"})],
    )
    # Age the token past a day, as if written yesterday.
    async with stores.engine.begin() as conn:
        await conn.execute(
            text("UPDATE job_events SET created_at = :at WHERE job_id = :job AND type = 'token'"),
            {"at": datetime.now(UTC) - timedelta(days=2), "job": job},
        )
    async with build_worker(settings, client, stores):
        await schedule.trigger()

        async def started() -> list[str]:
            recent = (await schedule.describe()).info.recent_actions
            return [
                a.action.workflow_id
                for a in recent
                if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
            ]

        [run_id, *_] = await eventually(started, timeout_s=30, what="a retention run")
        handle = client.get_workflow_handle(run_id, result_type=TrimmedJobEvents)
        result = await handle.result()
    await schedule.delete()
    assert result.removed >= 1
    assert [e.type for e in await stores.events.read(job, after=-1)] == ["stage"]
