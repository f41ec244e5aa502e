"""The `agent` job's contract: goal, tools and budgets in; an audited answer out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.contracts.ingest import CollectionName
from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.text import StorableText
from core.contracts.tools import TOOL_SPECS, AuditEntry, Document, DocumentRef

Outcome = Literal["answered", "budget_exhausted", "denied"]


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
    collections: list[CollectionName] = Field(
        default_factory=list,
        max_length=5,
        description="Your collections `search_documents` also searches (hybrid retrieval); "
        "it never reads any other.",
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


class AgentState(BaseModel):
    """Carried across continue-as-new: counters, short audit entries and the current step's
    new messages; the conversation itself stays in the claim-check store."""

    seq: int = 0
    pending: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[AuditEntry] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    llm_steps: int = 0
    tool_calls: int = 0


class AgentRun(AgentStart):
    """The workflow's own input: the API's start, plus state carried from earlier runs."""

    carried: AgentState = Field(default_factory=AgentState)


class AgentProgress(JobProgress):
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


AGENT = JobType(
    name="agent",
    workflow_type="AgentWorkflow",
    input_model=AgentInput,
    description="Work towards a goal with tools: the model proposes calls, the workflow "
    "validates them, asks a person before side effects, and stops at budgets.",
    accepts_input=True,
)
