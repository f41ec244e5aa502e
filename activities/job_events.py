"""Appending a workflow's events to its job's log, and trimming what retention lets go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity

from activities.database_waits import until_stored
from core.contracts.job_events import (
    APPEND_JOB_EVENTS,
    TRIM_JOB_EVENTS,
    AnsweredStep,
    AppendJobEvents,
    TrimJobEvents,
    TrimmedJobEvents,
)
from core.request_diff import request_digest
from store import (
    EmbeddingCache,
    InboxClaims,
    JobEventLog,
    JobRequests,
    ModelAnswers,
    ModelCallLog,
    PostgresLimitStorage,
    StepRecords,
    WebhookStore,
)
from store.job_events import NewEvent
from store.job_steps import StepRow

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
        journal_retention: timedelta = timedelta(days=7),
        webhooks: WebhookStore | None = None,
        claims: InboxClaims | None = None,
        embeddings: EmbeddingCache | None = None,
        steps: StepRecords | None = None,
        requests: JobRequests | None = None,
    ) -> None:
        self._events = events
        self._steps = steps
        self._requests = requests
        self._webhooks = webhooks
        self._claims = claims
        self._embeddings = embeddings
        self._rate_limits = rate_limits
        self._model_calls = model_calls
        self._answers = answers
        self._retention = retention
        self._token_retention = token_retention
        self._journal_retention = journal_retention

    @activity.defn(name=APPEND_JOB_EVENTS)
    async def append_job_events(self, request: AppendJobEvents) -> None:
        """Run as a local activity: the events reach the log without passing through history.
        A database outage is waited out here (up to the local activity's timeout, then the
        workflow's retry), not failed at once on every retry."""
        events = [
            NewEvent(e.key, str(e.data.get("type", "unknown")), e.data) for e in request.events
        ]
        await until_stored(
            lambda: self._events.append(request.job_id, events, request.progress), "events"
        )
        if request.answers and self._steps is not None:
            steps, head = self._steps, await self._events.head(request.job_id)
            owner = head.owner if head is not None else None
            rows = [_answered(request.job_id, owner or "", a) for a in request.answers]
            await until_stored(lambda: steps.record(rows), "step records")

    @activity.defn(name=TRIM_JOB_EVENTS)
    async def trim_job_events(self, request: TrimJobEvents) -> TrimmedJobEvents:
        """Remove what retention lets go, each kind in batches, heartbeating between them:
        events past their retention, expired cache rows, journal entries past the journal's
        retention, model calls that count for nothing, lapsed rate-limit windows, and the
        webhook messages of jobs whose events went, reviewers' lapsed claims, and kept
        embeddings past the journal's retention."""
        now = datetime.now(UTC)
        cutoff, token_cutoff = now - self._retention, now - self._token_retention
        trimmed = TrimmedJobEvents()
        more = True
        while more:
            batch, more = await self._events.trim(cutoff, token_cutoff)
            trimmed.removed += batch
            activity.heartbeat(trimmed.removed)
        trimmed.forgotten_jobs = await self._events.forget_empty(cutoff)
        if self._answers is not None:
            answers = self._answers
            trimmed.cache_rows = await _in_batches(answers.prune_cache)
            trimmed.journal_rows = await _in_batches(
                lambda batch: answers.prune_journal(self._journal_retention, batch)
            )
        if self._model_calls is not None:
            trimmed.model_calls = await _in_batches(self._model_calls.prune)
        if self._rate_limits is not None:
            trimmed.rate_windows = await self._rate_limits.prune()
        if self._webhooks is not None:
            # A job's last webhook message goes with its events.
            webhooks = self._webhooks
            trimmed.webhook_messages = await _in_batches(
                lambda batch: webhooks.prune(self._retention, batch)
            )
        if self._claims is not None:
            trimmed.inbox_claims = await _in_batches(self._claims.prune)
        if self._embeddings is not None:
            embeddings = self._embeddings
            trimmed.embeddings = await _in_batches(
                lambda batch: embeddings.prune(self._journal_retention, batch)
            )
        keep = self._journal_retention
        if self._steps is not None:
            steps = self._steps
            trimmed.job_steps = await _in_batches(lambda batch: steps.prune(keep, batch))
        if self._requests is not None:
            requests = self._requests
            trimmed.job_requests = await _in_batches(lambda batch: requests.prune(keep, batch))
        log.info("retention.pruned", **trimmed.model_dump())
        return trimmed


async def _in_batches(prune: Callable[[int], Awaitable[int]], batch: int = 10_000) -> int:
    """Call `prune(batch)` until a call removes less than a batch; the total removed."""
    total = 0
    while True:
        removed = await prune(batch)
        total += removed
        activity.heartbeat(total)
        if removed < batch:
            return total


def _answered(job_id: str, owner: str, answered: AnsweredStep) -> StepRow:
    record = answered.record
    asked = {"question": record.name}
    return StepRow(
        job_id=job_id,
        name=answered.step,
        owner=owner,
        kind="human",
        request=asked,
        digest=request_digest(asked),
        answer=record.model_dump(mode="json"),
        model=None,
        source=record.via,
        usage={},
        started_at=record.at,
        ended_at=record.at,
    )
