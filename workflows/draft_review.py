"""The `draft_review` job: the model drafts, a person reviews, approved text is published once."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.job import JobWorkflow
from workflows.model_calls import job_owner

with workflow.unsafe.imports_passed_through():
    from core.contracts.draft_review import (
        DraftReviewInput,
        DraftReviewProgress,
        DraftReviewResult,
        DraftReviewRun,
        DraftRound,
        Outcome,
        Review,
    )
    from core.contracts.human import OnTimeout
    from core.contracts.llm import ChatMessage, ChatRequest
    from core.contracts.publish import PUBLISH_DRAFT, PublishReceipt, PublishRequest

REVIEW_TIMEOUT_POLICY = {
    "fail": OnTimeout(action="fail"),
    "reject": OnTimeout(
        action="default", default={"decision": "reject", "feedback": "no review in time"}
    ),
    "escalate": OnTimeout(action="escalate"),
}


@workflow.defn(name="DraftReviewWorkflow")
class DraftReviewWorkflow(JobWorkflow[DraftReviewRun, DraftReviewProgress, DraftReviewResult]):
    """Each round is one run: draft, wait for review, then publish, stop, or continue as new."""

    async def steps(self, input: DraftReviewRun) -> DraftReviewResult:
        rounds = input.carried.rounds
        number = len(rounds) + 1
        self.progress.usage = input.carried.usage
        self.show("drafting", round=number, completed=len(rounds), total=input.max_rounds)
        prompt = _draft_prompt(input, rounds)
        answer = await self.ask(prompt, f"draft-{number}", f"draft {number}")
        current = DraftRound(round=number, draft=answer.text)
        rounds.append(current)

        self.show("waiting_for_review", completed=number)
        review, record = await self.ask_human(
            "review",
            f"Review draft {number} of {input.max_rounds}: approve, revise (with feedback) "
            "or reject. Approve may carry your own edited_text.",
            Review,
            within=timedelta(seconds=input.review_timeout_s),
            on_timeout=REVIEW_TIMEOUT_POLICY[input.on_review_timeout],
            context=_review_context(current, rounds[:-1], input.max_rounds),
            step=f"review-{number}",
        )
        current.review, current.reviewed = review, record

        if review.decision == "approve":
            text = review.edited_text or current.draft
            self.show("publishing")
            receipt = await workflow.execute_activity(
                PUBLISH_DRAFT,
                PublishRequest(
                    idempotency_key=f"{workflow.info().workflow_id}/round-{number}/publish",
                    job_id=workflow.info().workflow_id,
                    round=number,
                    text=text,
                    owner=job_owner() or "",
                    step=f"publish-{number}",
                    recording=self.reuse(),
                ),
                result_type=PublishReceipt,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary=f"publish draft {number}",
            )
            return self._result(input, "published", text, receipt)
        if review.decision == "reject":
            return self._result(input, "rejected", None, None)
        if number >= input.max_rounds:
            return self._result(input, "max_rounds_reached", None, None)
        # A fresh run per round keeps every history short however long reviews go on.
        carried = input.carried.model_copy(update={"usage": self.progress.usage})
        await self.continue_as_new(input.model_copy(update={"carried": carried}))

    def details(self) -> str:
        return f"round {self.progress.round} of {self.progress.total}"

    def _result(
        self,
        input: DraftReviewRun,
        outcome: Outcome,
        text: str | None,
        receipt: PublishReceipt | None,
    ) -> DraftReviewResult:
        return DraftReviewResult(
            outcome=outcome,
            final_text=text,
            publish=receipt,
            rounds=input.carried.rounds,
            usage=self.progress.usage,
        )


def _review_context(
    current: DraftRound, earlier: list[DraftRound], max_rounds: int
) -> dict[str, object]:
    """What a reviewer decides on: the draft, and after a revision the draft before it and
    the feedback that asked for the change (the review page shows the difference)."""
    context: dict[str, object] = {
        "draft": current.draft,
        "round": current.round,
        "max_rounds": max_rounds,
    }
    if earlier:
        last = earlier[-1]
        context["previous_draft"] = last.draft
        context["feedback"] = last.review.feedback if last.review else None
    return context


def _draft_prompt(job: DraftReviewInput, earlier: list[DraftRound]) -> ChatRequest:
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
    return ChatRequest(messages=messages, model=job.model, max_output_tokens=2000)
