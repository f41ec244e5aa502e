"""Trimming job event logs to their retention: started by a Temporal Schedule, not a job."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.contracts.job_events import (
        RETENTION_WORKFLOW,
        TRIM_JOB_EVENTS,
        TrimJobEvents,
        TrimmedJobEvents,
    )


@workflow.defn(name=RETENTION_WORKFLOW)
class EventRetentionWorkflow:
    @workflow.run
    async def run(self, request: TrimJobEvents) -> TrimmedJobEvents:
        trimmed: TrimmedJobEvents = await workflow.execute_activity(
            TRIM_JOB_EVENTS,
            request,
            result_type=TrimmedJobEvents,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=5),
            summary="remove job events past retention",
        )
        return trimmed
