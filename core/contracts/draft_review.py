"""The `draft_review` job's contract: the brief, the reviewer's answer, progress and result."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.contracts.human import AnswerRecord
from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.publish import PublishReceipt
from core.contracts.text import StorableText

Outcome = Literal["published", "rejected", "max_rounds_reached"]


class DraftReviewInput(JobInput):
    """What a caller sends to start a `draft_review` job."""

    model_config = ConfigDict(extra="forbid")

    brief: str = Field(min_length=1, max_length=20_000, description="What to write.")
    audience: str | None = Field(None, max_length=500, description="Who it is for.")
    max_rounds: int = Field(3, ge=1, le=10, description="Drafts before giving up.")
    review_timeout_s: int = Field(
        86_400, ge=60, le=30 * 86_400, description="How long each review may take."
    )
    on_review_timeout: Literal["fail", "reject", "escalate"] = Field(
        "escalate",
        description="fail the job, reject the draft, or notify and wait once more, then fail.",
    )
    model: str | None = Field(None, min_length=1, max_length=200)

    def plan(self) -> JobPlan:
        return JobPlan(model_calls=self.max_rounds, explanation=f"up to {self.max_rounds} drafts")


class Review(BaseModel):
    """A reviewer's answer."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "revise", "reject"]
    feedback: str | None = Field(None, max_length=10_000)
    edited_text: StorableText | None = Field(
        None, min_length=1, max_length=100_000, description="Approve this text instead."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Review:
        if self.decision == "revise" and not self.feedback:
            raise ValueError("a revision needs feedback for the next draft")
        if self.edited_text is not None and self.decision != "approve":
            raise ValueError("edited_text goes with decision 'approve'")
        return self


class DraftRound(BaseModel):
    round: int
    draft: str
    review: Review | None = None
    reviewed: AnswerRecord | None = None


class DraftReviewState(BaseModel):
    """Carried across continue-as-new, one run per round."""

    rounds: list[DraftRound] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)


class DraftReviewRun(DraftReviewInput, WithOptions):
    """The workflow's own input: the caller's, plus the rounds carried from earlier runs.

    The API validates against `DraftReviewInput`, so callers cannot forge earlier rounds.
    """

    carried: DraftReviewState = Field(default_factory=DraftReviewState)


class DraftReviewProgress(JobProgress):
    stage: Literal["drafting", "waiting_for_review", "publishing", "done"] = "drafting"
    round: int = 1


class DraftReviewResult(BaseModel):
    outcome: Outcome
    final_text: str | None
    publish: PublishReceipt | None
    rounds: list[DraftRound]
    usage: TokenUsage


DRAFT_REVIEW = JobType(
    name="draft_review",
    workflow_type="DraftReviewWorkflow",
    input_model=DraftReviewInput,
    description="The model drafts from a brief; a person approves, revises or rejects; approved "
    "text is published exactly once.",
    accepts_input=True,
)
