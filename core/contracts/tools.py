"""Agent tools as a contract: each tool's name, description, argument model and limits.

The agent workflow checks proposals against these specs and the API validates job inputs with
them; `activities/tools/` holds the code that runs each one, registered under the same name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import RetryPolicy

from core.contracts.recording import Recording
from core.contracts.text import StorableText

RUN_TOOL = "run_tool"
STORE_DOCUMENTS = "store_documents"


# Audit entries and events keep this much of a call's arguments and result; the whole of both
# stays in the job's stored conversation, found by `call_id`. This bounds what every step adds
# to history and to the state carried across continue-as-new, whatever the tools exchange.
SUMMARY_CHARS = 100


def summarize_text(text: str, limit: int = SUMMARY_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize_arguments(arguments: dict[str, Any] | str) -> str:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, sort_keys=True)
    return summarize_text(raw)


# How a tool's activity fails when the tool itself answered no (a refusal, arguments it does
# not take): that answer goes back to the model as the tool's result.
TOOL_REFUSED = "ToolFailed"
INVALID_ARGUMENTS = "InvalidArguments"
UNKNOWN_TOOL = "UnknownTool"
# How a job fails when an approved side effect could not be performed before its deadline.
SIDE_EFFECT_NOT_PERFORMED = "SideEffectNotPerformed"

# A read-only tool that keeps failing tells the model so after a few tries.
READ_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))
# A side effect that was approved is done, not dropped: it is retried (safely, under its
# idempotency key) until it succeeds or its deadline passes, every few seconds so it goes
# through soon after the database or network is back.
SIDE_EFFECT_RETRY = RetryPolicy(maximum_attempts=0, maximum_interval=timedelta(seconds=5))


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args_model: type[BaseModel]
    side_effects: bool = False
    # One attempt's limit, and the step's deadline across every attempt.
    timeout: timedelta = timedelta(seconds=30)
    deadline: timedelta = timedelta(minutes=5)

    @property
    def retry(self) -> RetryPolicy:
        return SIDE_EFFECT_RETRY if self.side_effects else READ_RETRY

    def openai_schema(self) -> dict[str, Any]:
        """The Chat Completions `tools` entry, generated from the argument model."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.args_model.model_json_schema(),
            },
        }


class CalculatorArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(
        min_length=1, max_length=500, description="Arithmetic, e.g. `(2 + 3) * 4 / 7 ** 2`."
    )


class SearchDocumentsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=300, description="Words to look for.")
    limit: int = Field(5, ge=1, le=20, description="At most this many matches.")


class FetchUrlArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="An http(s) URL.")


class CreateTicketArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: StorableText = Field(min_length=1, max_length=200)
    body: StorableText = Field(min_length=1, max_length=5000)
    priority: Literal["low", "normal", "high"] = "normal"


TOOL_SPECS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="calculator",
            description="Evaluate an arithmetic expression exactly as written and return the "
            "number.",
            args_model=CalculatorArgs,
        ),
        ToolSpec(
            name="search_documents",
            description="Search the documents given to this job (and the caller's earlier jobs) "
            "by keywords; returns matching document names with the matching passages in "
            "[brackets].",
            args_model=SearchDocumentsArgs,
        ),
        ToolSpec(
            name="fetch_url",
            description="Fetch a web page (allow-listed hosts only) and return its status and "
            "text.",
            args_model=FetchUrlArgs,
        ),
        ToolSpec(
            name="create_ticket",
            description="Open a support ticket with a title, a body and a priority; returns the "
            "ticket id.",
            args_model=CreateTicketArgs,
            side_effects=True,
            # Long enough to outlast a database restart or failover.
            deadline=timedelta(hours=1),
        ),
    )
}


class Document(BaseModel):
    """A document as a caller sends it with a job."""

    model_config = ConfigDict(extra="forbid")

    name: StorableText = Field(min_length=1, max_length=200)
    text: StorableText = Field(min_length=1, max_length=200_000)


DOCUMENT_ID_PATTERN = r"^doc-[0-9a-f]{32}$"


class DocumentRef(BaseModel):
    """A stored document: what a job carries instead of the text (a claim check)."""

    id: str
    name: str


def document_id(owner: str, document: Document) -> str:
    """Content-addressed per owner: the same document stored twice is one row, and the API and
    a workflow derive the same id without asking the database."""
    digest = hashlib.sha256(f"{owner}\0{document.name}\0{document.text}".encode()).hexdigest()
    return f"doc-{digest[:32]}"


def document_refs(owner: str, documents: list[Document]) -> list[DocumentRef]:
    return [DocumentRef(id=document_id(owner, d), name=d.name) for d in documents]


class ToolRequest(BaseModel):
    tool: str
    arguments: dict[str, Any]
    idempotency_key: str
    owner: str
    job_id: str
    # The stored documents this job was given: all that `search_documents` may read.
    documents: list[str] = Field(default_factory=list)
    # The owner's collections the job named: searched too, and nothing else.
    collections: list[str] = Field(default_factory=list)
    # The step's name in the job's records, and where its result may come from instead.
    step: str = "tool"
    recording: Recording | None = None


class ToolResult(BaseModel):
    content: str
    truncated: bool = False


class StoreDocumentsRequest(BaseModel):
    owner: str
    job_id: str
    documents: list[Document] = Field(default_factory=list)


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


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["allow", "deny"]
    reason: str | None = Field(None, max_length=2000)
