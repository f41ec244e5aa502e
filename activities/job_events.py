"""Appending a workflow's events to its job's log, and trimming what retention lets go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity

from core.contracts.job_events import (
    APPEND_JOB_EVENTS,
    TRIM_JOB_EVENTS,
    AppendJobEvents,
    TrimJobEvents,
    TrimmedJobEvents,
)
from store import JobEventLog, ModelAnswers, ModelCallLog, PostgresLimitStorage
from store.job_events import NewEvent

log = structlog.get_logger(__name__)


class JobEventActivities:
    def __init__(
        self,
        events: JobEventLog,
        retention: timedelta,
        token_retention: timedelta,
        rate_limits: PostgresLimitStorage | None = None,
        model_calls: ModelCallLog | None = None,
        answers: ModelAnswers | None = None,
    ) -> None:
        self._events = events
        self._rate_limits = rate_limits
        self._model_calls = model_calls
        self._answers = answers
        self._retention = retention
        self._token_retention = token_retention

    @activity.defn(name=APPEND_JOB_EVENTS)
    async def append_job_events(self, request: AppendJobEvents) -> None:
        """Run as a local activity: the events reach the log without passing through history."""
        await self._events.append(
            request.job_id,
            [NewEvent(e.key, str(e.data.get("type", "unknown")), e.data) for e in request.events],
            request.progress,
        )

    @activity.defn(name=TRIM_JOB_EVENTS)
    async def trim_job_events(self, request: TrimJobEvents) -> TrimmedJobEvents:
        """Remove events past retention in batches, heartbeating between them."""
        now = datetime.now(UTC)
        cutoff, token_cutoff = now - self._retention, now - self._token_retention
        removed, more = 0, True
        while more:
            batch, more = await self._events.trim(cutoff, token_cutoff)
            removed += batch
            activity.heartbeat(removed)
        forgotten = await self._events.forget_empty(cutoff)
        # Rate-limit windows that no longer count expire on the same schedule.
        windows = await self._rate_limits.prune() if self._rate_limits else 0
        log.info("events.trimmed", removed=removed, forgotten_jobs=forgotten, rate_windows=windows)
        return TrimmedJobEvents(removed=removed, forgotten_jobs=forgotten)
