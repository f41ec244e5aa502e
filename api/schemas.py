"""HTTP shapes of the API: what callers send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.options import JobOptions

JobStatus = Literal[
    "running", "waiting_for_input", "completed", "failed", "cancelled", "timed_out", "terminated"
]


class JobCreate(BaseModel):
    """Start a job: its type, and an input that the type's own model validates."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str = Field(min_length=1, max_length=100, examples=["summarize"])
    input: dict[str, Any] = Field(examples=[{"text": "A long text...", "max_words": 100}])
    options: JobOptions = Field(default_factory=JobOptions)


class JobLinks(BaseModel):
    self: str
    ui: str = Field(description="The run in the Temporal Web UI.")


class JobCreated(BaseModel):
    id: str
    type: str
    status: JobStatus
    links: JobLinks


class JobError(BaseModel):
    """Why a job did not complete: the error type and message from the failure chain."""

    type: str
    message: str


class WaitingFor(BaseModel):
    """What a job in `waiting_for_input` needs from a person."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(
        "", description="This question's id; send it back as `question_id` with the answer."
    )
    name: str
    prompt: str
    answer_schema: dict[str, Any] = Field(
        alias="schema", description="JSON schema the answer's `value` must fit."
    )
    deadline: datetime
    context: dict[str, Any] | None = Field(
        None,
        description="What to decide on, in full: the draft (`draft_review`), or the proposed "
        "tool, its validated arguments and why it needs approval (`agent`).",
    )


class Job(BaseModel):
    id: str
    type: str
    status: JobStatus
    waiting_for: WaitingFor | None = None
    progress: dict[str, Any] | None = None
    result: Any = None
    error: JobError | None = None
    created_at: datetime
    closed_at: datetime | None = None
    links: JobLinks


class JobSummary(BaseModel):
    id: str
    type: str
    status: JobStatus
    created_at: datetime
    closed_at: datetime | None = None
    links: JobLinks


class JobPage(BaseModel):
    jobs: list[JobSummary]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class InputSubmit(BaseModel):
    """An answer to the question a job is waiting on."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["review"])
    value: dict[str, Any] = Field(examples=[{"decision": "approve"}])
    question_id: str | None = Field(
        None,
        max_length=100,
        description="`waiting_for.id` of the question answered; the pending one when omitted. "
        "An answer to a question that is no longer pending is a 409.",
    )


class InputAccepted(BaseModel):
    """The answer as the job recorded it."""

    question_id: str | None = None
    name: str
    value: dict[str, Any]
    answered_by: str
    at: datetime


class CancelAccepted(BaseModel):
    id: str
    cancel_requested: Literal[True] = True


class JobTypeInfo(BaseModel):
    name: str
    description: str
    input_schema: dict[str, Any]
    # Whether its jobs ask people questions (answered with `POST /v1/jobs/{id}/input`).
    accepts_input: bool = False


class ErrorBody(BaseModel):
    """Every error the API answers: a stable `code`, a sentence, the request's id (quote it
    when reporting a 500), and for a 422 the field errors in FastAPI's shape."""

    code: str = Field(description="Stable, machine-readable: `job_not_found`, `rate_limited`...")
    message: str
    request_id: str | None = None
    detail: list[dict[str, Any]] | None = Field(
        None, description="422 only: one entry per field, with `loc`, `msg` and `type`."
    )


class UsageLine(BaseModel):
    """Model calls in one group (a day, a model, a job type), or in all of them."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float = Field(description="Dollars of the calls whose model has a known price.")
    unpriced_calls: int = Field(description="Calls to models without a known price.")
    cache_hits: int = Field(0, description="Answers from the response cache: no model call.")
    saved_cost_usd: float = Field(0.0, description="What those answers would have cost.")


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    group_by: Literal["day", "model", "type"]
    groups: list[UsageLine]
    total: UsageLine


class WebhookSecret(BaseModel):
    """The owner's Standard Webhooks secret: verify each webhook's `webhook-signature` with it
    (for example with the `standardwebhooks` package)."""

    secret: str


class WebhookRedelivery(BaseModel):
    """A redelivery started: the same message, with the same `webhook-id`."""

    webhook_id: str
    event: str
