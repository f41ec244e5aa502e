"""The Schedule that keeps job event logs to their retention, created when a worker starts."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from core.contracts.job_events import RETENTION_WORKFLOW, TrimJobEvents

log = structlog.get_logger(__name__)

RETENTION_EVERY = timedelta(hours=1)


def schedule_id(task_queue: str) -> str:
    return f"aijobs-event-retention-{task_queue}"


async def ensure_retention_schedule(client: Client, task_queue: str) -> bool:
    """Create the hourly retention Schedule unless it exists; True when this call created it.

    Every worker calls this: the first creates it, the others find it.
    """
    sid = schedule_id(task_queue)
    try:
        await client.create_schedule(
            sid,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    RETENTION_WORKFLOW,
                    TrimJobEvents(),
                    id=f"{sid}-run",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=RETENTION_EVERY)]),
                # A slow clean-up is not started twice.
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    log.info("retention.scheduled", schedule_id=sid, every_s=RETENTION_EVERY.total_seconds())
    return True
