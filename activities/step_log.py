"""A step's record, from the activity's side: before a step runs, whether its parent's record
or a recording answers it instead (or, in strict replay, that nothing does: ReplayMiss); after,
its record for later reruns, replays and cassettes.

An activity says it once per step: `step = steps.begin(...)`, then `await step.taken()` (the
record to answer from, kept as this job's own step too), else run it and `await step.ran(...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.database_waits import until_stored
from core.contracts.llm import AnswerSource, TokenUsage
from core.contracts.recording import REPLAY_MISS, Recording, StepKind
from core.request_diff import describe_change, request_digest
from store.job_steps import StepRecords, StepRow

log = structlog.get_logger(__name__)


class StepLog:
    """`records` None: a worker without the application database records nothing (and
    refuses a strict replay rather than ask a model)."""

    def __init__(self, records: StepRecords | None) -> None:
        self._records = records

    def begin(
        self,
        recording: Recording | None,
        owner: str | None,
        name: str,
        kind: StepKind,
        request: dict[str, Any],
        digest: str | None = None,
    ) -> Step:
        """A step about to run. `digest` identifies the request; by default, `request`'s."""
        return Step(
            self, recording, owner or "", name, kind, request, digest or request_digest(request)
        )

    async def _recorded(self, step: Step) -> StepRow | None:
        recording = step.recording
        if recording is None:
            return None
        if self._records is None:
            if recording.mode == "replay":
                raise ApplicationError(
                    "this worker has no application database to replay from",
                    type=REPLAY_MISS,
                    non_retryable=True,
                )
            return None
        records = self._records
        found = await until_stored(
            lambda: records.step(step.owner, recording.source, step.name), "step records"
        )
        if recording.mode == "fork":
            before = recording.before
            if found is not None and (before is None or _ended(found) <= before):
                return found
            return None
        if found is not None and found.digest == step.digest:
            return found
        if recording.mode == "identical":
            return None
        raise ApplicationError(
            await self._miss(records, recording.source, step, found),
            {"step": step.name, "recording": recording.source},
            type=REPLAY_MISS,
            non_retryable=True,
        )

    @staticmethod
    async def _miss(records: StepRecords, source: str, step: Step, found: StepRow | None) -> str:
        if found is None:
            names = await records.names(step.owner, source)
            listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
            return (
                f"step {step.name!r} is not in recording {source}; it holds: {listed or 'no steps'}"
            )
        change = describe_change(found.request, step.request) or "(the same request)"
        return f"step {step.name!r} asks something recording {source} does not hold:\n{change}"

    async def _keep(
        self,
        step: Step,
        answer: dict[str, Any],
        model: str | None,
        source: str,
        usage: TokenUsage,
    ) -> None:
        """A record that cannot be written is logged, never a failed step: the answer is paid
        for, and only a later rerun loses the step."""
        if self._records is None:
            return
        row = StepRow(
            job_id=activity.info().workflow_id or "",
            name=step.name,
            owner=step.owner,
            kind=step.kind,
            request=step.request,
            digest=step.digest,
            answer=answer,
            model=model,
            source=source,
            usage=usage.model_dump(mode="json"),
            started_at=step.started_at,
        )
        records = self._records
        try:
            await until_stored(lambda: records.record([row]), "step records")
        except Exception as err:
            log.warning("step.not_recorded", step=step.name, error=type(err).__name__)


@dataclass
class Step:
    """One step as its activity runs it."""

    log: StepLog
    recording: Recording | None
    owner: str
    name: str
    kind: StepKind
    request: dict[str, Any]
    digest: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    async def taken(self) -> StepRow | None:
        """The record that answers this step instead of a model or a tool (only the owner's
        own records are read), or None to run it. A taken step is kept as this job's own:
        what this job asked, the answer it took."""
        row = await self.log._recorded(self)
        if row is not None:
            await self.log._keep(self, row.answer, row.model, self.source, self.usage(row))
        return row

    async def ran(
        self, answer: dict[str, Any], model: str | None, source: str, usage: TokenUsage
    ) -> None:
        """Record the step this job just ran."""
        await self.log._keep(self, answer, model, source, usage)

    @property
    def source(self) -> AnswerSource:
        """Where a taken step's answer came from."""
        return "recording" if self.recording and self.recording.mode == "replay" else "parent"

    @staticmethod
    def usage(row: StepRow) -> TokenUsage:
        """What a taken step adds to the job's usage: no tokens and no cost, one reused step,
        and what it cost when it ran."""
        return TokenUsage(reused=1, saved_cost_usd=float(row.usage.get("cost_usd") or 0.0))


def _ended(row: StepRow) -> datetime:
    return row.ended_at or row.started_at
