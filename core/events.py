"""Job events: one typed model per kind, as workflows and activities publish them and the API
streams them. Each is a row in the job's event log; `type` names its kind."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class StageEvent(BaseModel):
    type: Literal["stage"] = "stage"
    stage: str
    completed: int = 0
    total: int = 0


class TokenEvent(BaseModel):
    """Text the model just wrote for one step. `attempt` tells a retried step's text apart."""

    type: Literal["token"] = "token"
    step: str
    text: str
    attempt: int = 1


class StepCompletedEvent(BaseModel):
    type: Literal["step_completed"] = "step_completed"
    step: str
    input_tokens: int = 0
    output_tokens: int = 0
    # model, cache (a cross-run hit, no call) or journal (a retry reusing its answer).
    source: str = "model"


class RetrievedEvent(BaseModel):
    """A retrieval step: which passages it found (best first), and how long it took."""

    type: Literal["retrieved"] = "retrieved"
    step: str
    chunk_ids: list[int]
    took_ms: float


class ToolCallEvent(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    step: int
    tool: str
    arguments: dict[str, Any] | str


class ToolResultEvent(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    step: int
    tool: str
    status: str
    summary: str


class WaitingForInputEvent(BaseModel):
    type: Literal["waiting_for_input"] = "waiting_for_input"
    question_id: str | None = None
    name: str
    prompt: str
    deadline: str


class InputReceivedEvent(BaseModel):
    type: Literal["input_received"] = "input_received"
    name: str
    answered_by: str
    via: str


class RetryEvent(BaseModel):
    """A step's attempt failed and another starts: drop that step's text from the failed one."""

    type: Literal["retry"] = "retry"
    step: str
    attempt: int
    reason: str


class RateLimitedEvent(BaseModel):
    """A model call waits for its model's shared limit (or a provider's pause): not a failure,
    not a retry."""

    type: Literal["rate_limited"] = "rate_limited"
    step: str | None = None
    model: str
    wait_s: float


class FallbackEvent(BaseModel):
    """A step moved to the next model: the one before could not answer."""

    type: Literal["fallback"] = "fallback"
    step: str | None = None
    from_model: str
    to_model: str
    reason: str


class CompletedEvent(BaseModel):
    type: Literal["completed"] = "completed"
    result: Any


class FailedEvent(BaseModel):
    type: Literal["failed"] = "failed"
    error: dict[str, str]


class CancelledEvent(BaseModel):
    type: Literal["cancelled"] = "cancelled"


class TruncatedEvent(BaseModel):
    """Sent by the API, never stored: retention removed some events the client asked for."""

    type: Literal["truncated"] = "truncated"
    continues_from: int
    removed_through: int
    reason: str = "retention"


class WebhookDeliveredEvent(BaseModel):
    """The job's webhook reached its receiver (written after the job may have ended)."""

    type: Literal["webhook_delivered"] = "webhook_delivered"
    webhook_id: str
    event: str
    status: int
    attempt: int


class WebhookFailedEvent(BaseModel):
    """One failed attempt; `final` says no other will follow."""

    type: Literal["webhook_failed"] = "webhook_failed"
    webhook_id: str
    event: str
    status: int | None = None
    attempt: int
    error: str
    final: bool = False


Event = Annotated[
    StageEvent
    | TokenEvent
    | StepCompletedEvent
    | RetrievedEvent
    | ToolCallEvent
    | ToolResultEvent
    | WaitingForInputEvent
    | InputReceivedEvent
    | RetryEvent
    | RateLimitedEvent
    | FallbackEvent
    | CompletedEvent
    | FailedEvent
    | CancelledEvent
    | WebhookDeliveredEvent
    | WebhookFailedEvent,
    Field(discriminator="type"),
]
EVENTS: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES = (
    "stage",
    "token",
    "step_completed",
    "retrieved",
    "tool_call",
    "tool_result",
    "waiting_for_input",
    "input_received",
    "retry",
    "rate_limited",
    "fallback",
    "completed",
    "failed",
    "cancelled",
    "webhook_delivered",
    "webhook_failed",
    "truncated",
)
TERMINAL_TYPES = frozenset({"completed", "failed", "cancelled"})
