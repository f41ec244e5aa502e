"""Side effects that reach people or systems: publishing approved text, notifying a person."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.contracts.recording import Recording

PUBLISH_DRAFT = "publish_draft"
NOTIFY_PERSON = "notify_person"


class PublishRequest(BaseModel):
    # Derived from workflow id and round by the workflow, so every retry carries the same key.
    idempotency_key: str
    job_id: str
    round: int
    text: str
    # Whose job it is, the step's name among its records, and where its receipt may come
    # from instead (a rerun whose parent published it already).
    owner: str = ""
    step: str = "publish"
    recording: Recording | None = None


class PublishReceipt(BaseModel):
    idempotency_key: str
    destination: Literal["webhook", "outbox"]
    # True when the destination already had this key: a retry, not a second publish.
    duplicate: bool


class NotifyRequest(BaseModel):
    """Someone must answer: a question was `asked` of reviewer groups, or nobody answered it
    before its deadline (`escalated`)."""

    job_id: str
    name: str
    prompt: str
    reason: str
    event: Literal["asked", "escalated"] = "escalated"
    question_id: str | None = None
    # The reviewer groups the job grants; the activity adds the question's inbox link.
    groups: list[str] = Field(default_factory=list)
