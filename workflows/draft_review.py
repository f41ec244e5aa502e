"""The `draft_review` job: the model drafts, a person reviews, approved text is published once."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.contrib.workflow_streams import WorkflowStream, WorkflowStreamState

from workflows.events import EventLog, record_final_progress
from workflows.human import HumanInput
from workflows.llm_step import ask_model, check_budget

with workflow.unsafe.imports_passed_through():
    from core.contracts.draft_review import (
        DraftReviewInput,
        DraftReviewProgress,
        DraftReviewResult,
        DraftRound,
        Outcome,
        Review,
    )
    from core.contracts.human import OnTimeout
    from core.contracts.llm import ChatMessage, ChatRequest, TokenUsage
    from core.contracts.options import WithOptions
    from core.contracts.publish import PUBLISH_DRAFT, PublishReceipt, PublishRequest
    from core.events import StageEvent, StepCompletedEvent


class DraftReviewState(BaseModel):
    """Carried across continue-as-new, one run per round."""

    rounds: list[DraftRound] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)


class DraftReviewRun(DraftReviewInput, WithOptions):
    """The workflow's own input: the caller's, plus the rounds carried from earlier runs.

    The API validates against `DraftReviewInput`, so callers cannot forge earlier rounds.
    """

    carried: DraftReviewState = Field(default_factory=DraftReviewState)
    stream_state: WorkflowStreamState | None = None


REVIEW_TIMEOUT_POLICY = {
    "fail": OnTimeout(action="fail"),
    "reject": OnTimeout(
        action="default", default={"decision": "reject", "feedback": "no review in time"}
    ),
    "escalate": OnTimeout(action="escalate"),
}


@workflow.defn(name="DraftReviewWorkflow")
class DraftReviewWorkflow(HumanInput):
    """Each round is one run: draft, wait for review, then publish, stop, or continue as new."""

    @workflow.init
    def __init__(self, input: DraftReviewRun) -> None:
        # Design 1 needs no patch marker for the event log, the final progress or the waits.
        # (WorkflowStream insists on being built right here, in __init__.)
        prior = input.stream_state
        self.events = (
            EventLog(to_database=True)
            if input.design >= 1
            else EventLog(WorkflowStream(prior), prior.base_offset if prior else 0)
        )
        self._init_human_input(self.events, unpatched=input.design >= 1)
        self._state = input.carried
        self._progress = DraftReviewProgress(
            round=len(self._state.rounds) + 1, usage=self._state.usage
        )

    @workflow.query(name="progress")
    def progress(self) -> DraftReviewProgress:
        return self._progress

    @workflow.run
    async def run(self, input: DraftReviewRun) -> DraftReviewResult:
        return await self.events.report(lambda: self._round(input))

    async def _round(self, input: DraftReviewRun) -> DraftReviewResult:
        number = len(self._state.rounds) + 1
        check_budget(input.options, self._state.usage)
        self._stage("drafting")
        prompt = _draft_prompt(input, self._state.rounds, f"draft-{number}")
        answer = await ask_model(
            prompt.model_copy(update={"cache": input.options.cache}),
            f"draft {number}",
            input.options.fallback_models,
            self.events,
        )
        self._state.usage = self._state.usage + answer.usage
        self.events.publish(
            StepCompletedEvent(
                step=f"draft-{number}",
                input_tokens=answer.usage.input_tokens,
                output_tokens=answer.usage.output_tokens,
                source=answer.source,
            )
        )
        current = DraftRound(round=number, draft=answer.text)
        self._state.rounds.append(current)

        self._stage("waiting_for_review")
        review, record = await self.ask_human(
            "review",
            f"Review draft {number} of {input.max_rounds}: approve, revise (with feedback) "
            "or reject. Approve may carry your own edited_text.",
            Review,
            within=timedelta(seconds=input.review_timeout_s),
            on_timeout=REVIEW_TIMEOUT_POLICY[input.on_review_timeout],
            context={"draft": current.draft, "round": number, "max_rounds": input.max_rounds},
        )
        current.review, current.reviewed = review, record

        if review.decision == "approve":
            text = review.edited_text or current.draft
            self._stage("publishing")
            receipt = await workflow.execute_activity(
                PUBLISH_DRAFT,
                PublishRequest(
                    idempotency_key=f"{workflow.info().workflow_id}/round-{number}/publish",
                    job_id=workflow.info().workflow_id,
                    round=number,
                    text=text,
                ),
                result_type=PublishReceipt,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary=f"publish draft {number}",
            )
            return self._finish("published", text, receipt)
        if review.decision == "reject":
            return self._finish("rejected", None, None)
        if number >= input.max_rounds:
            return self._finish("max_rounds_reached", None, None)
        # A fresh run per round keeps every history short however long reviews go on.
        await self.events.continue_as_new(
            lambda stream: [
                input.model_copy(update={"carried": self._state, "stream_state": stream})
            ]
        )

    def _stage(self, stage: Literal["drafting", "waiting_for_review", "publishing"]) -> None:
        self._progress = DraftReviewProgress(
            stage=stage, round=len(self._state.rounds) or 1, usage=self._state.usage
        )
        self.events.publish(StageEvent(stage=stage, completed=len(self._state.rounds)))
        if stage != "waiting_for_review":  # the wait publishes its own details
            workflow.set_current_details(
                f"**{stage}** · round {self._progress.round} · {self._state.usage.shown()}"
            )

    def _finish(
        self, outcome: Outcome, text: str | None, receipt: PublishReceipt | None
    ) -> DraftReviewResult:
        self._progress = DraftReviewProgress(
            stage="done", round=len(self._state.rounds), usage=self._state.usage
        )
        workflow.set_current_details(f"**done** · {outcome}")
        record_final_progress(self._progress, unpatched=self._unpatched)
        return DraftReviewResult(
            outcome=outcome,
            final_text=text,
            publish=receipt,
            rounds=self._state.rounds,
            usage=self._state.usage,
        )


def _draft_prompt(job: DraftReviewInput, earlier: list[DraftRound], step: str) -> ChatRequest:
    audience = f" The audience is: {job.audience}." if job.audience else ""
    messages = [
        ChatMessage(
            role="system",
            content=f"You write clear, concise drafts from a brief.{audience} "
            "Reply with the draft only.",
        ),
        ChatMessage(role="user", content=job.brief),
    ]
    if earlier:
        # The conversation so far: the brief, the last draft, then the reviewer's feedback.
        last = earlier[-1]
        feedback = last.review.feedback if last.review else ""
        messages += [
            ChatMessage(role="assistant", content=last.draft),
            ChatMessage(role="user", content=f"Revise the draft. Reviewer feedback: {feedback}"),
        ]
    return ChatRequest(messages=messages, model=job.model, max_output_tokens=2000, step=step)
