"""A step's record, from the activity's side: before a step runs, whether its parent's record
or a recording answers it instead (or, in strict replay, that nothing does: ReplayMiss); after,
its record for later reruns, replays and cassettes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.database_waits import until_stored
from core.contracts.llm import AnswerSource, TokenUsage
from core.contracts.recording import REPLAY_MISS, Recording, StepKind
from core.request_diff import describe_change
from store.job_steps import StepRecords, StepRow

log = structlog.get_logger(__name__)


class StepLog:
    """`records` None: a worker without the application database records nothing."""

    def __init__(self, records: StepRecords | None) -> None:
        self._records = records

    async def recorded(
        self,
        recording: Recording | None,
        owner: str | None,
        name: str,
        request: dict[str, Any],
        digest: str,
    ) -> StepRow | None:
        """The record that answers this step instead of a model or a tool, or None to run it.
        Only the owner's own records are read."""
        if recording is None or self._records is None:
            return None
        records = self._records
        found = await until_stored(
            lambda: records.step(owner or "", recording.source, name), "step records"
        )
        if recording.mode == "fork":
            before = recording.before
            if found is not None and (before is None or _ended(found) <= before):
                return found
            return None
        if found is not None and found.digest == digest:
            return found
        if recording.mode == "identical":
            return None
        raise ApplicationError(
            await self._miss(recording.source, owner or "", name, request, found),
            {"step": name, "recording": recording.source},
            type=REPLAY_MISS,
            non_retryable=True,
        )

    async def _miss(
        self, source: str, owner: str, name: str, asked: dict[str, Any], found: StepRow | None
    ) -> str:
        if found is None and self._records is not None:
            names = await self._records.names(owner, source)
            listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
            return f"step {name!r} is not in recording {source}; it holds: {listed or 'no steps'}"
        if found is None:
            return f"step {name!r} is not in recording {source}"
        change = describe_change(found.request, asked) or "(the same request, another digest)"
        return f"step {name!r} asks something recording {source} does not hold:\n{change}"

    async def keep(
        self,
        owner: str | None,
        name: str,
        kind: StepKind,
        request: dict[str, Any],
        digest: str,
        answer: dict[str, Any],
        model: str | None,
        source: str,
        usage: TokenUsage,
        started_at: datetime,
    ) -> None:
        """Record a step that just ended. A record that cannot be written is logged, never a
        failed step: the answer is paid for."""
        if self._records is None:
            return
        row = StepRow(
            job_id=activity.info().workflow_id or "",
            name=name,
            owner=owner or "",
            kind=kind,
            request=request,
            digest=digest,
            answer=answer,
            model=model,
            source=source,
            usage=usage.model_dump(mode="json"),
            started_at=started_at,
        )
        records = self._records
        try:
            await until_stored(lambda: records.record([row]), "step records")
        except Exception as err:  # the step succeeded; a rerun simply cannot reuse it
            log.warning("step.not_recorded", step=name, error=type(err).__name__)


async def keep_taken(
    log_: StepLog,
    recording: Recording,
    owner: str | None,
    name: str,
    kind: StepKind,
    request: dict[str, Any],
    digest: str,
    row: StepRow,
    started_at: datetime,
) -> None:
    """Record a step taken from `row` as this job's own: what this job asked, the answer it
    took. A rerun of this job, or its cassette, then holds every step."""
    await log_.keep(
        owner,
        name,
        kind,
        request,
        digest,
        row.answer,
        row.model,
        reuse_source(recording),
        reused_usage(row),
        started_at,
    )


def reused_usage(row: StepRow) -> TokenUsage:
    """What a step taken from a record adds to the job's usage: no tokens and no cost, one
    reused step, and what it cost when it ran."""
    cost = row.usage.get("cost_usd") or 0.0
    return TokenUsage(reused=1, saved_cost_usd=float(cost))


def reuse_source(recording: Recording) -> AnswerSource:
    return "recording" if recording.mode == "replay" else "parent"


def now() -> datetime:
    return datetime.now(UTC)


def _ended(row: StepRow) -> datetime:
    return row.ended_at or row.started_at
