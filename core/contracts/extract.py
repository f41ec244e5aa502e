"""The `extract` job's contract: documents in, one schema-valid object per document out."""

from __future__ import annotations

import json
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.chunking import split_text
from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.text import StorableText
from core.contracts.tools import DOCUMENT_ID_PATTERN

# A schema is instructions to a model, not data: this is plenty, and bounds every prompt.
MAX_SCHEMA_CHARS = 20_000
# Nesting past this is no schema a person writes, and checking it recurses once per level.
MAX_SCHEMA_DEPTH = 32
# Every document's text travels in the workflow's input: this keeps it under Temporal's
# payload limit whether the texts were sent or read from stored ids.
MAX_TOTAL_CHARS = 1_000_000


class ExtractDocument(BaseModel):
    """A document to read: its name and text, or the id of one stored by an earlier job."""

    model_config = ConfigDict(extra="forbid")

    name: StorableText | None = Field(None, min_length=1, max_length=200)
    text: StorableText | None = Field(None, min_length=1, max_length=200_000)
    id: str | None = Field(
        None,
        pattern=DOCUMENT_ID_PATTERN,
        description="A stored document's id (every `extract` item names its own).",
    )

    @model_validator(mode="after")
    def _text_or_id(self) -> ExtractDocument:
        if self.text is None and self.id is None:
            raise ValueError("give a document's `name` and `text`, or the `id` of a stored one")
        if self.text is not None and self.name is None:
            raise ValueError("a document with `text` needs a `name`")
        return self

    @property
    def body(self) -> str:
        if self.text is None:
            raise RuntimeError(f"document {self.id} was not read from the store")
        return self.text

    @property
    def label(self) -> str:
        return self.name or self.id or ""


class ExtractInput(JobInput):
    """What a caller sends to start an `extract` job."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    documents: list[ExtractDocument] = Field(min_length=1, max_length=50)
    output_schema: dict[str, Any] = Field(
        alias="schema", description="A JSON Schema (2020-12) each document's object must fit."
    )
    instructions: StorableText | None = Field(None, max_length=5000)
    model: str | None = Field(None, min_length=1, max_length=200)
    chunk_chars: int = Field(8000, ge=1000, le=100_000, description="Long documents are split.")
    max_parallel: int = Field(4, ge=1, le=16, description="Calls in flight at once.")
    max_repairs: int = Field(2, ge=0, le=5, description="Repairs after an answer that misfits.")

    @field_validator("output_schema")
    @classmethod
    def _a_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
            raise ValueError(f"the schema is longer than {MAX_SCHEMA_CHARS} characters as JSON")
        if _depth(schema) > MAX_SCHEMA_DEPTH:
            raise ValueError(f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as err:
            where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
            raise ValueError(f"not a valid JSON Schema at {where}: {err.message}") from None
        return schema

    def chunks(self, document: ExtractDocument) -> list[str]:
        return split_text(document.body, self.chunk_chars)

    def plan(self) -> JobPlan:
        parts = sum(len(self.chunks(d)) for d in self.documents)
        return JobPlan(
            model_calls=parts * (1 + self.max_repairs),
            explanation=f"{parts:,} parts of {len(self.documents)} documents, each with up to "
            f"{self.max_repairs} repairs",
        )


class ExtractRun(ExtractInput, WithOptions):
    """The workflow's input: the caller's, plus the job's options."""


class ExtractItem(BaseModel):
    document: str
    # Send `{"id": ...}` next time instead of the text.
    document_id: str | None = None
    data: Any = None
    status: Literal["ok", "failed"]
    errors: list[str] = Field(default_factory=list)


class ExtractProgress(JobProgress):
    stage: Literal["extracting", "done"] = "extracting"


class ExtractResult(BaseModel):
    items: list[ExtractItem]
    models: list[str] = Field(default_factory=list)
    usage: TokenUsage


EXTRACT = JobType(
    name="extract",
    workflow_type="ExtractWorkflow",
    input_model=ExtractInput,
    description="Extract one object fitting a JSON Schema from each document; answers that "
    "misfit are repaired, and a document that fails does not fail the others.",
)


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in `value`, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest
