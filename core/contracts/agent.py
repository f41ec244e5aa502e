"""The `agent` job's contract: goal, tools and budgets in; an audited answer out."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.text import StorableText
from core.contracts.tools import TOOL_SPECS, Document, DocumentRef

Outcome = Literal["answered", "budget_exhausted", "denied"]
# Audit entries and events keep this much of a call's arguments and result; the whole of both
# stays in the job's stored conversation, found by `call_id`. This bounds what every step adds
# to history and to the state carried across continue-as-new, whatever the tools exchange.
SUMMARY_CHARS = 100


def summarize_text(text: str, limit: int = SUMMARY_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize_arguments(arguments: dict[str, Any] | str) -> str:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, sort_keys=True)
    return summarize_text(raw)


class AgentInput(JobInput):
    """What a caller sends to start an `agent` job."""

    model_config = ConfigDict(extra="forbid")

    goal: StorableText = Field(min_length=1, max_length=20_000)
    tools: list[str] = Field(default_factory=list, max_length=20, description="Tools it may use.")
    model: str | None = Field(None, min_length=1, max_length=200)
    max_steps: int = Field(12, ge=1, le=500, description="Model calls at most.")
    max_tool_calls: int = Field(20, ge=0, le=1000)
    max_tokens: int = Field(50_000, ge=100, le=10_000_000)
    preapproved_tools: list[str] = Field(
        default_factory=list, description="Side-effecting tools that need no approval."
    )
    documents: list[Document] | None = Field(
        None,
        max_length=50,
        description="Stored once for `search_documents`; the job carries only their ids.",
    )
    approval_timeout_s: int = Field(86_400, ge=60, le=30 * 86_400)

    @field_validator("tools", "preapproved_tools")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - set(TOOL_SPECS))
        if unknown:
            raise ValueError(f"unknown tools {unknown}; available: {sorted(TOOL_SPECS)}")
        return list(dict.fromkeys(names))

    @model_validator(mode="after")
    def _preapproved_are_allowed(self) -> AgentInput:
        extra = sorted(set(self.preapproved_tools) - set(self.tools))
        if extra:
            raise ValueError(f"preapproved_tools {extra} are not in tools")
        return self

    def plan(self) -> JobPlan:
        return JobPlan(model_calls=self.max_steps, explanation=f"max_steps {self.max_steps}")


class AgentStart(AgentInput, WithOptions):
    """What the API starts the workflow with: documents already stored, referenced by id."""

    document_refs: list[DocumentRef] = Field(default_factory=list)


class AuditEntry(BaseModel):
    """One tool call: what the model proposed and what the backend did with it, in short."""

    step: int
    tool: str
    # Where the whole call and its result are kept: the job's conversation, by tool call id.
    call_id: str | None = None
    arguments: str
    status: Literal["ok", "error", "rejected", "denied"]
    result_summary: str
    approved_by: str | None = None
    duration_ms: int = 0
    # The model that proposed the call (after a fallback, not the job's own).
    model: str | None = None

    @field_validator("arguments", mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        # Runs recorded before summaries carried whole argument objects.
        if isinstance(value, dict | str):
            return summarize_arguments(value)
        return value


class AgentProgress(BaseModel):
    stage: Literal["thinking", "running_tool", "waiting_for_approval", "done"] = "thinking"
    step: int = 0
    tool_calls: int = 0
    last_tool_call: str | None = None
    budget_left: dict[str, int] = Field(default_factory=dict)


class AgentResult(BaseModel):
    outcome: Outcome
    reason: str | None
    answer: str | None
    steps: list[AuditEntry]
    llm_steps: int
    tool_calls: int
    usage: TokenUsage


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["allow", "deny"]
    reason: str | None = Field(None, max_length=2000)
