"""Asking people: the question a job shows, the answer it takes, and the names clients use."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Names in the public contract: clients, the UI's signal dialog and the CLI use them.
UPDATE_NAME = "submit_answer"
SIGNAL_NAME = "answer"
WAITING_MEMO = "waiting_for"

# A reviewer group's name (AIJOBS_REVIEWERS), as a job grants it in `options.reviewers`.
GROUP_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

# Error types the API maps to HTTP statuses.
NOT_WAITING = "NotWaiting"
INVALID_ANSWER = "InvalidAnswer"
INPUT_TIMEOUT = "InputTimeout"


class Submission(BaseModel):
    """An answer as sent by the API, the Temporal UI or the CLI."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    value: dict[str, Any]
    # The question answered (`waiting_for.id`). With it, an answer meant for an earlier
    # question is refused instead of applied to the current one; without it (the UI's signal
    # dialog), the pending question is meant.
    question_id: str | None = Field(default=None, max_length=100)
    # Set by the API from the caller's key. Signals may name themselves ("cli", "temporal-ui").
    answered_by: str | None = Field(default=None, max_length=200)
    # How it was sent, set by the API: its JSON routes, or a reviewer's inbox page.
    via: Literal["api", "inbox"] = "api"


class WaitingFor(BaseModel):
    """What the workflow is waiting for, as shown to people and clients."""

    # Chosen by the workflow, unique within the job: two questions with the same name (two
    # approvals) are told apart, and so are their answers.
    id: str = ""
    name: str
    prompt: str
    answer_schema: dict[str, Any]
    asked_at: datetime | None = None
    deadline: datetime
    # What the person needs to decide, in full: the draft, or the proposed call and why it
    # needs approval. Kept for the whole wait (events expire; the question does not).
    context: dict[str, Any] | None = None


class AnswerRecord(BaseModel):
    """One entry of the audit trail: who answered what, when, and how."""

    question_id: str | None = None
    name: str
    value: dict[str, Any]
    answered_by: str
    # `api` and `inbox` arrive through the validated Update; `signal` through the UI or CLI.
    # `parent`: a rerun took the answer its parent received (`reuse_answers`).
    via: Literal["api", "inbox", "signal", "timeout", "parent"]
    at: datetime


class OnTimeout(BaseModel):
    """What happens when nobody answers before the deadline."""

    action: Literal["fail", "default", "escalate"] = "fail"
    # For `default`: the answer to continue with.
    default: dict[str, Any] | None = None
