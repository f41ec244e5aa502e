"""Writing a job's events to its log, and the retention that trims it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from core.contracts.human import AnswerRecord

APPEND_JOB_EVENTS = "append_job_events"
TRIM_JOB_EVENTS = "trim_job_events"
# The workflow the retention Schedule starts; not a job type, so no API lists it.
RETENTION_WORKFLOW = "EventRetentionWorkflow"


class KeyedEvent(BaseModel):
    """One event as its writer keys it: the same key appended twice is stored once."""

    key: str
    data: dict[str, Any]


class AnsweredStep(BaseModel):
    """A person's answer, kept among the job's steps (a rerun may reuse it)."""

    step: str
    record: AnswerRecord


class AppendJobEvents(BaseModel):
    job_id: str
    events: list[KeyedEvent]
    answers: list[AnsweredStep] = Field(default_factory=list)
    # The job's progress as of the last of these events: what `GET /v1/jobs/{id}` shows while
    # the job runs, read from the database rather than asked of a worker.
    progress: dict[str, Any] | None = None


class TrimJobEvents(BaseModel):
    """Retention periods come from the worker's settings, so changing them needs no new
    Schedule."""


class TrimmedJobEvents(BaseModel):
    """What one retention run removed."""

    removed: int = Field(default=0, description="Job events past their retention.")
    forgotten_jobs: int = Field(default=0, description="Jobs with no events left.")
    cache_rows: int = Field(default=0, description="Expired answers of the response cache.")
    journal_rows: int = Field(default=0, description="Step answers past journal retention.")
    model_calls: int = Field(default=0, description="Calls outside every limit's window.")
    rate_windows: int = Field(default=0, description="Lapsed owner rate-limit windows.")
    inbox_claims: int = Field(default=0, description="Reviewers' claims that lapsed.")
    job_steps: int = Field(default=0, description="Step records past the journal's retention.")
    job_requests: int = Field(
        default=0, description="Jobs' accepted requests past the journal's retention."
    )
    embeddings: int = Field(
        default=0, description="Kept embeddings older than the journal's retention."
    )
    webhook_messages: int = Field(
        default=0, description="Jobs' last webhook messages past event retention."
    )
