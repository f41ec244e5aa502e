"""Asking a person from inside a workflow: a durable wait, answered by Update or by signal.

Every job workflow has it through the job SDK (workflows/job.py): `await self.ask_human(...)`.
The question is published (search attribute `JobWaitingFor`, memo `waiting_for`, current
details) so the API, the Temporal UI and the CLI can all see what is awaited. Answers arrive
through the Update `submit_answer` (validated before anything is written to history) or the
signal `answer` (the Temporal UI's signal dialog, `temporal workflow signal`), carrying the
same JSON.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.events import EventLog
from workflows.reuse import Reuse

with workflow.unsafe.imports_passed_through():
    from core.contracts.human import (
        INPUT_TIMEOUT,
        INVALID_ANSWER,
        NOT_WAITING,
        SIGNAL_NAME,
        UPDATE_NAME,
        WAITING_MEMO,
        AnswerRecord,
        OnTimeout,
        Submission,
        WaitingFor,
    )
    from core.contracts.publish import NOTIFY_PERSON, NotifyRequest
    from core.events import InputReceivedEvent, WaitingForInputEvent
    from core.temporal import JOB_WAITING_FOR

Answer = TypeVar("Answer", bound=BaseModel)

# The Temporal UI's current details show this much of a question's context.
DETAILS_CONTEXT_CHARS = 4000
# A failing notification is retried this often at most while the second wait lasts.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5)
)


class HumanInput(Reuse):
    """The part of the job SDK that waits for people."""

    events: EventLog

    def __init__(self) -> None:
        super().__init__()
        self._notifying: workflow.ActivityHandle[Any] | None = None
        self._waiting: WaitingFor | None = None
        self._waiting_model: type[BaseModel] | None = None
        self._received: AnswerRecord | None = None
        self.answers: list[AnswerRecord] = []

    @workflow.query(name="waiting_for", description="The question awaiting an answer, if any.")
    def waiting_for(self) -> WaitingFor | None:
        return self._waiting

    @workflow.update(
        name=UPDATE_NAME,
        description='Answer the pending question: {"name": ..., "value": {...}}.',
    )
    def submit_answer(self, submission: Submission) -> AnswerRecord:
        return self._accept(submission, via=submission.via)

    @submit_answer.validator
    def _check_answer(self, submission: Submission) -> None:
        """Reject before anything reaches history: wrong name, nothing pending, or a bad value."""
        self._parse(submission)

    @workflow.signal(
        name=SIGNAL_NAME,
        description='Answer the pending question: {"name": ..., "value": {...}, '
        '"answered_by": "cli"}.',
    )
    def answer(self, submission: Submission) -> None:
        try:
            self._accept(submission, via="signal")
        except ApplicationError as err:
            # A signal cannot be refused; an answer that does not fit is logged and dropped.
            workflow.logger.warning(
                "human.answer_ignored", extra={"question": submission.name, "reason": err.message}
            )

    async def waiting_started(self, waiting: WaitingFor) -> None:
        """Called once a question is asked; the job SDK calls the job's webhook back here."""

    async def ask_human(
        self,
        name: str,
        prompt: str,
        schema: type[Answer],
        within: timedelta,
        on_timeout: OnTimeout,
        context: dict[str, Any] | None = None,
        step: str | None = None,
    ) -> tuple[Answer, AnswerRecord]:
        """Wait durably (a Temporal timer) for an answer that fits `schema`, up to `within`;
        then apply `on_timeout`. `context` is what the person needs to decide, shown for the
        whole wait. `step` names the question among the job's steps (default: `name`): a
        rerun with `reuse_answers` takes the parent's answer to the same step instead."""
        step = step or name
        if (reused := self.reused_answer(step)) is not None:
            return self._received_answer(step, schema, reused)
        self._waiting = WaitingFor(
            id=f"{name}-{workflow.uuid4().hex[:12]}",
            name=name,
            prompt=prompt,
            answer_schema=schema.model_json_schema(),
            asked_at=workflow.now(),
            deadline=workflow.now() + within,
            context=context,
        )
        self._waiting_model = schema
        self._received = None
        self._publish_waiting()
        await self.waiting_started(self._waiting)
        try:
            record = await self._wait(within)
            if record is None and on_timeout.action == "escalate":
                self._escalate(within)
                record = await self._wait(within)
        except asyncio.CancelledError:
            # A cancelled job is no longer waiting: `JobWaitingFor IS NOT NULL` must not list it.
            self._stop_waiting()
            raise
        if record is None and on_timeout.action == "default":
            record = self._record(name, on_timeout.default or {}, "timeout-policy", "timeout")
        # Not in a `finally`: an evicted workflow's coroutine must not touch workflow APIs.
        self._stop_waiting()
        if record is None:
            raise ApplicationError(
                f"nobody answered {name!r} before the deadline",
                type=INPUT_TIMEOUT,
                non_retryable=True,
            )
        return self._received_answer(step, schema, record)

    def _received_answer(
        self, step: str, schema: type[Answer], record: AnswerRecord
    ) -> tuple[Answer, AnswerRecord]:
        self.answers.append(record)
        self.events.publish(
            InputReceivedEvent(name=record.name, answered_by=record.answered_by, via=record.via)
        )
        self.events.record_answer(step, record)
        return schema.model_validate(record.value), record

    def _stop_waiting(self) -> None:
        if self._notifying is not None and not self._notifying.done():
            self._notifying.cancel()
        self._notifying = None
        self._waiting = None
        self._waiting_model = None
        self._publish_waiting()

    async def _wait(self, within: timedelta) -> AnswerRecord | None:
        try:
            await workflow.wait_condition(
                lambda: self._received is not None,
                timeout=within,
                timeout_summary=f"deadline for {self._waiting.name if self._waiting else 'answer'}",
            )
        except TimeoutError:
            return None
        return self._received

    def tell_reviewers(self, waiting: WaitingFor, groups: list[str]) -> None:
        """Notify the job's reviewer groups of a new question, retried in the background
        until its deadline (the same delivery as an escalation)."""
        request = NotifyRequest(
            job_id=workflow.info().workflow_id,
            name=waiting.name,
            prompt=waiting.prompt,
            reason=f"a question for {', '.join(groups)}",
            event="asked",
            question_id=waiting.id,
            groups=groups,
        )
        telling = workflow.start_activity(
            NOTIFY_PERSON,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=max(waiting.deadline - workflow.now(), timedelta(minutes=1)),
            retry_policy=NOTIFY_RETRY,
            summary=f"tell {', '.join(groups)} of {waiting.name}",
        )
        telling.add_done_callback(_log_notify_failure)

    def _escalate(self, within: timedelta) -> None:
        """Notify someone and extend the deadline once. The notification retries in the
        background: a webhook outage must not fail a job that a person can still answer."""
        waiting = self._waiting
        if waiting is None:
            return
        waiting.deadline = workflow.now() + within
        self._publish_waiting()
        request = NotifyRequest(
            job_id=workflow.info().workflow_id,
            name=waiting.name,
            prompt=waiting.prompt,
            reason="no answer before the deadline; waiting once more",
        )
        self._notifying = workflow.start_activity(
            NOTIFY_PERSON,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=within,
            retry_policy=NOTIFY_RETRY,
            summary=f"escalate: nobody answered {waiting.name}",
        )
        self._notifying.add_done_callback(_log_notify_failure)

    def _parse(self, submission: Submission) -> BaseModel:
        if self._waiting is None or self._waiting_model is None or self._received is not None:
            raise ApplicationError("the job is not waiting for input", type=NOT_WAITING)
        if submission.question_id is not None and submission.question_id != self._waiting.id:
            raise ApplicationError(
                f"question {submission.question_id!r} is no longer pending; the job is waiting "
                f"for {self._waiting.id!r}",
                type=NOT_WAITING,
            )
        if submission.name != self._waiting.name:
            raise ApplicationError(
                f"the job is waiting for {self._waiting.name!r}, not {submission.name!r}",
                type=NOT_WAITING,
            )
        try:
            return self._waiting_model.model_validate(submission.value)
        except ValidationError as err:
            raise ApplicationError(
                f"the answer does not fit the schema of {submission.name!r}",
                err.errors(include_url=False, include_context=False, include_input=False),
                type=INVALID_ANSWER,
            ) from None

    def _accept(
        self, submission: Submission, via: Literal["api", "inbox", "signal"]
    ) -> AnswerRecord:
        parsed = self._parse(submission)
        by = submission.answered_by or ("temporal-client" if via != "signal" else "operator")
        self._received = self._record(submission.name, parsed.model_dump(mode="json"), by, via)
        return self._received

    def _record(
        self,
        name: str,
        value: dict[str, Any],
        by: str,
        via: Literal["api", "inbox", "signal", "timeout"],
    ) -> AnswerRecord:
        question = self._waiting.id if self._waiting else None
        return AnswerRecord(
            question_id=question or None,
            name=name,
            value=value,
            answered_by=by,
            via=via,
            at=workflow.now(),
        )

    def _publish_waiting(self) -> None:
        """Show the wait: search attribute for lists, memo for the API, details for the UI."""
        waiting = self._waiting
        if waiting is None:
            workflow.upsert_search_attributes([JOB_WAITING_FOR.value_unset()])
            workflow.upsert_memo({WAITING_MEMO: None})
            return
        workflow.upsert_search_attributes([JOB_WAITING_FOR.value_set(waiting.name)])
        workflow.upsert_memo({WAITING_MEMO: waiting.model_dump(mode="json")})
        self.events.publish(
            WaitingForInputEvent(
                question_id=waiting.id,
                name=waiting.name,
                prompt=waiting.prompt,
                deadline=waiting.deadline.isoformat(),
            )
        )
        details = (
            f"**waiting for {waiting.name}** (`{waiting.id}`) until "
            f"{waiting.deadline:%Y-%m-%d %H:%M} UTC: {waiting.prompt}"
        )
        if waiting.context:
            shown = json.dumps(waiting.context, indent=2, sort_keys=True)
            cut = "\n…" if len(shown) > DETAILS_CONTEXT_CHARS else ""
            details += f"\n\n```json\n{shown[:DETAILS_CONTEXT_CHARS]}{cut}\n```"
        workflow.set_current_details(details)


def _log_notify_failure(notifying: workflow.ActivityHandle[Any]) -> None:
    if notifying.cancelled():
        return
    if (error := notifying.exception()) is not None:
        workflow.logger.warning("human.escalation_failed", extra={"reason": str(error)})
