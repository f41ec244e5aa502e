"""The `ingest` job: documents cut into passages, embedded and kept in an owner's collection
for retrieval. Also what its workflow and its activity share."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.contracts.job_type import JobProgress, JobType
from core.contracts.llm import TokenUsage
from core.contracts.options import WithOptions
from core.contracts.plan import JobInput, JobPlan
from core.contracts.text import StorableText

INGEST_DOCUMENT = "ingest_document"
COLLECTION_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
CollectionName = Annotated[str, Field(pattern=COLLECTION_PATTERN, examples=["handbook"])]
# Texts per embedding request: well inside providers' per-request input limits.
EMBED_BATCH = 128


class IngestSource(BaseModel):
    """One document: its `text` (with a `name`), a stored document's `id` (from an earlier
    job), or a `url` fetched with fetch_url's protections."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: StorableText | None = Field(None, min_length=1, max_length=300)
    text: StorableText | None = Field(None, min_length=1, max_length=2_000_000)
    id: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _one_source(self) -> IngestSource:
        given = [f for f in ("text", "id", "url") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text (with a name), id or url")
        if self.text is not None and self.name is None:
            raise ValueError("a document given by text needs a name")
        return self


class IngestInput(JobInput):
    """What a caller sends to start an `ingest` job."""

    model_config = ConfigDict(extra="forbid")

    collection: CollectionName
    documents: list[IngestSource] = Field(min_length=1, max_length=1000)
    chunk_tokens: int = Field(400, ge=50, le=2000, description="Tokens per passage, at most.")
    overlap_tokens: int = Field(50, ge=0, le=500, description="Tokens neighbours share.")
    embedding_model: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Unset: AIJOBS_EMBEDDING_MODEL (the offline model without a key).",
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> IngestInput:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError("overlap_tokens must be less than chunk_tokens")
        return self

    def plan(self) -> JobPlan:
        # Embedding requests, not chat calls: bounded by documents, not by the call limit.
        return JobPlan(model_calls=0, explanation=f"{len(self.documents)} documents")


class StoredSource(BaseModel):
    """A document as the job carries it: a name and a stored id, or a URL (never a text)."""

    name: str
    document_id: str | None = None
    url: str | None = None


class IngestRun(WithOptions):
    collection: str
    documents: list[StoredSource]
    chunk_tokens: int = 400
    overlap_tokens: int = 50
    embedding_model: str


class IngestDocument(BaseModel):
    """The activity's input: one document of the job."""

    owner: str
    collection: str
    source: StoredSource
    chunk_tokens: int
    overlap_tokens: int
    embedding_model: str


class DocumentIngested(BaseModel):
    name: str
    status: Literal["ingested", "failed"]
    error: str | None = None
    chunks: int = 0
    added: int = 0
    reused: int = 0
    removed: int = 0
    # Passages sent to the model; the others' embeddings were known already.
    embedded: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)


class IngestProgress(JobProgress):
    stage: Literal["ingesting", "done"] = "ingesting"


class IngestResult(BaseModel):
    collection: str
    embedding_model: str
    documents: list[DocumentIngested]
    usage: TokenUsage


INGEST = JobType(
    name="ingest",
    workflow_type="IngestWorkflow",
    input_model=IngestInput,
    description="Cut documents into passages along their outline, embed the ones not seen "
    "before, and keep them in a collection for search and answers.",
)
