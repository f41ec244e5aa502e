"""Event retention as a Temporal Schedule: created once at start-up, and its run trims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.contracts.job_events import RETENTION_WORKFLOW, TrimJobEvents, TrimmedJobEvents
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


async def test_a_retention_run_prunes_the_cache_the_journal_and_the_model_calls(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    """The Schedule's workflow removes expired cache rows, journal rows past
    AIJOBS_JOURNAL_RETENTION_DAYS (and jobs' request and step records as old), model calls
    past every window and webhook messages past event retention; what is still live stays.
    Rows are counted before and after."""
    settings.journal_retention_days = 1.0
    tag = uuid.uuid4().hex
    now = datetime.now(UTC)
    async with stores.engine.begin() as conn:
        for age, name in ((timedelta(days=2), "old"), (timedelta(hours=1), "new")):
            await conn.execute(
                text("INSERT INTO model_journal (key, answer, created_at) VALUES (:k, '{}', :at)"),
                {"k": f"{tag}-{name}", "at": now - age},
            )
            await conn.execute(
                text("INSERT INTO model_cache (key, answer, expires_at) VALUES (:k, '{}', :at)"),
                # The old answer expired an hour ago; the new one expires in an hour.
                {"k": f"{tag}-{name}", "at": now + (timedelta(hours=1) if name == "new" else -age)},
            )
            await conn.execute(
                text("INSERT INTO model_calls (model, at, tokens) VALUES (:m, :at, 10)"),
                {"m": tag, "at": now - (timedelta(hours=3) if name == "old" else timedelta())},
            )
            # A job's last webhook message lives as long as its events.
            await conn.execute(
                text(
                    "INSERT INTO webhook_messages (job_id, owner, message, updated_at) "
                    "VALUES (:k, 'o', '{}', :at)"
                ),
                {"k": f"{tag}-{name}", "at": now - (age * 100 if name == "old" else age)},
            )
            # A job's request and step records are kept as long as the journal.
            await conn.execute(
                text(
                    "INSERT INTO job_requests (job_id, owner, type, input, options, created_at) "
                    "VALUES (:k, 'o', 'summarize', '{}', '{}', :at)"
                ),
                {"k": f"{tag}-{name}", "at": now - age},
            )
            await conn.execute(
                text(
                    "INSERT INTO job_steps (job_id, name, owner, kind, request, digest, answer, "
                    "source, usage, started_at, ended_at) VALUES (:k, 'chunk-1', 'o', 'chat', "
                    "'{}', 'd', '{}', 'model', '{}', :at, :at)"
                ),
                {"k": f"{tag}-{name}", "at": now - age},
            )

    async def counts() -> tuple[int, ...]:
        found = []
        async with stores.engine.connect() as conn:
            for query in (
                "SELECT count(*) FROM model_journal WHERE key LIKE :tag",
                "SELECT count(*) FROM model_cache WHERE key LIKE :tag",
                "SELECT count(*) FROM model_calls WHERE model LIKE :tag",
                "SELECT count(*) FROM webhook_messages WHERE job_id LIKE :tag",
                "SELECT count(*) FROM job_requests WHERE job_id LIKE :tag",
                "SELECT count(*) FROM job_steps WHERE job_id LIKE :tag",
            ):
                found.append((await conn.execute(text(query), {"tag": f"{tag}%"})).scalar_one())
        return tuple(found)

    assert await counts() == (2, 2, 2, 2, 2, 2)
    async with build_worker(settings, dev_env.client, stores):
        result = await dev_env.client.execute_workflow(
            RETENTION_WORKFLOW,
            TrimJobEvents(),
            id=f"retention-{tag}",
            task_queue=settings.task_queue,
            result_type=TrimmedJobEvents,
        )
    assert await counts() == (1, 1, 1, 1, 1, 1)
    assert result.journal_rows >= 1
    assert result.cache_rows >= 1
    assert result.model_calls >= 1
    assert result.webhook_messages >= 1
    assert result.job_requests >= 1
    assert result.job_steps >= 1
