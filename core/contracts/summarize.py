"""The `summarize` job's contract: what a caller sends, how progress reads, what comes back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.chunking import planned_calls, split_text
from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan

Stage = Literal["splitting", "summarizing", "combining", "done"]
# The body limit (AIJOBS_MAX_BODY_BYTES) usually refuses a text sooner; this holds if it is raised.
MAX_TEXT_CHARS = 5_000_000


class SummarizeInput(JobInput):
    """What a caller sends to start a `summarize` job."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The text to summarize.")
    max_words: int = Field(150, ge=10, le=2000, description="Length limit of the final summary.")
    chunk_chars: int = Field(
        4000, ge=200, le=100_000, description="Characters per chunk sent to the model."
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Model name; the worker's default when null, `offline` for the built-in one.",
    )
    max_parallel: int = Field(8, ge=1, le=32, description="Chunk calls in flight at once.")

    @field_validator("text")
    @classmethod
    def _has_words(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text has no words to summarize")
        return text

    def plan(self) -> JobPlan:
        """Split as the workflow will, and count the chunk and combine calls."""
        chunks = len(split_text(self.text, self.chunk_chars))
        calls = planned_calls(chunks, self.chunk_chars, self.max_words)
        return JobPlan(
            model_calls=calls,
            explanation=f"{chunks:,} chunks of at most {self.chunk_chars:,} characters, then "
            f"{calls - chunks:,} combine calls",
        )


class SummarizeRun(SummarizeInput, WithOptions):
    """The workflow's input: the caller's, plus the job's options."""


class SummarizeProgress(JobProgress):
    stage: Stage = "splitting"


class SummarizeResult(BaseModel):
    summary: str
    chunk_count: int
    model: str
    # Every model that answered a step (more than one after a fallback).
    models: list[str] = Field(default_factory=list)
    usage: TokenUsage


SUMMARIZE = JobType(
    name="summarize",
    workflow_type="SummarizeWorkflow",
    input_model=SummarizeInput,
    description="Summarize a long text: chunks in parallel, then a combined summary.",
)
