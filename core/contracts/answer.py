"""The `answer` job: a question answered from one of the owner's collections, with citations
that are checked against the passages they quote. Also its retrieval step's contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.ingest import CollectionName
from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.recording import Recording
from core.contracts.text import StorableText

RETRIEVE_PASSAGES = "retrieve_passages"
ANSWER_REPAIRS = 2


class AnswerInput(JobInput):
    """What a caller sends to start an `answer` job."""

    model_config = ConfigDict(extra="forbid")

    collection: CollectionName
    question: StorableText = Field(min_length=1, max_length=4000)
    top_k: int = Field(8, ge=1, le=50, description="Passages retrieved and shown to the model.")
    model: str | None = Field(None, min_length=1, max_length=100)
    max_words: int | None = Field(None, ge=10, le=2000, description="The answer's length.")

    def plan(self) -> JobPlan:
        return JobPlan(
            model_calls=1 + ANSWER_REPAIRS,
            explanation=f"one answer with up to {ANSWER_REPAIRS} repairs",
        )


class AnswerRun(AnswerInput, WithOptions):
    """The workflow's input: the caller's, plus the job's options."""


class RetrieveRequest(BaseModel):
    owner: str
    collection: str
    question: str
    top_k: int
    # Where the step (`retrieve`) may be answered from instead: a rerun's parent, a replay.
    recording: Recording | None = None


class RetrievedPassage(BaseModel):
    chunk_id: int
    document: str
    document_id: str
    headings: list[str]
    text: str
    score: float


class Retrieved(BaseModel):
    passages: list[RetrievedPassage]
    embedding_model: str
    # The model that answers when the job names none: the worker's default, or `offline`.
    default_model: str
    took_ms: float
    usage: TokenUsage = Field(default_factory=TokenUsage)


class Citation(BaseModel):
    document: str
    document_id: str
    chunk: int = Field(description="The passage's chunk id, as retrieved.")
    quote: str = Field(description="Words of that passage, exactly.")


class AnswerProgress(JobProgress):
    stage: Literal["retrieving", "answering", "done"] = "retrieving"
    chunk_ids: list[int] = Field(default_factory=list)


class AnswerResult(BaseModel):
    answer: str
    citations: list[Citation]
    grounded: bool = Field(description="False when the documents do not answer the question.")
    dropped_citations: int = Field(
        0,
        description="Citations the model gave that named no retrieved passage, or quoted "
        "words not in it: checked in code and left out.",
    )
    chunk_ids: list[int] = Field(description="The passages retrieved, best first.")
    model: str
    usage: TokenUsage


# What the model must return; its citations are checked before the job reports them.
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "grounded": {"type": "boolean"},
        "citations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"chunk": {"type": "integer"}, "quote": {"type": "string"}},
                "required": ["chunk", "quote"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["answer", "grounded", "citations"],
    "additionalProperties": False,
}


ANSWER = JobType(
    name="answer",
    workflow_type="AnswerWorkflow",
    input_model=AnswerInput,
    description="Answer a question from a collection: hybrid retrieval, then one structured "
    "answer whose citations are checked against the passages; `grounded: false` when the "
    "documents do not answer it.",
)
