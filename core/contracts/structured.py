"""Structured output: ask a model for JSON that fits a schema, and say exactly where it does
not, so the workflow can ask for a repair."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from core.contracts.llm import AnswerSource, CachePolicy, ChatMessage, TokenUsage
from core.contracts.recording import Recording

COMPLETE_STRUCTURED = "complete_structured"
INVALID_MODEL_OUTPUT = "InvalidModelOutput"


class StructuredRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    json_schema: dict[str, Any]
    model: str | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=0.0, ge=0, le=2)
    step: str | None = None
    owner: str | None = None
    cache: CachePolicy | None = None
    fail_fast: bool = False
    # A top-level string field whose text streams as the step's `token` events.
    stream_field: str | None = None
    recording: Recording | None = None


class StructuredResult(BaseModel):
    """The model's output, parsed and checked: `data` when it fits the schema, else the
    reasons it does not (`errors`), with the text it sent (`raw`) to ask for a repair."""

    data: Any = None
    errors: list[str] = Field(default_factory=list)
    raw: str = ""
    model: str
    usage: TokenUsage
    source: AnswerSource = "model"
