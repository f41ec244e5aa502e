"""The tables the stores use. Migrations under `store/migrations/` create them; a test checks
that the migrated schema and these definitions agree."""

from __future__ import annotations

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

metadata = MetaData()

# Agent conversations (a claim check): messages at fixed positions, so a retried step rewrites
# the same rows instead of appending.
conversation_messages = Table(
    "conversation_messages",
    metadata,
    Column("conversation_id", Text, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("message", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Documents given to jobs, stored once per owner: the id is a digest of owner, name and text.
documents = Table(
    "documents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column(
        "search",
        TSVECTOR,
        Computed("to_tsvector('english', name || ' ' || body)", persisted=True),
        nullable=False,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("documents_owner_idx", "owner"),
    Index("documents_search_idx", "search", postgresql_using="gin"),
)

# Side effects keyed by the idempotency key the workflow derived: a retry inserts nothing.
tickets = Table(
    "tickets",
    metadata,
    Column("idempotency_key", Text, primary_key=True),
    Column("ticket_id", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("job_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("tickets_job_idx", "job_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("idempotency_key", Text, primary_key=True),
    Column("job_id", Text, nullable=False),
    Column("round", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("outbox_job_idx", "job_id"),
)

# Per job: the next event offset (the row every append locks, so offsets are gap-free and
# commit in order), who owns the job, and how far retention has removed events.
job_event_heads = Table(
    "job_event_heads",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=True),
    Column("next_offset", BigInteger, nullable=False, server_default="0"),
    Column("trimmed_through", BigInteger, nullable=False, server_default="-1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The job's progress as of its last event that carried one (migration 0009).
    Column("progress", JSONB, nullable=True),
)

# Each job's append-only event log. `key` is the writer's natural key for the event, so a
# retried append adds nothing.
job_events = Table(
    "job_events",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("offset", BigInteger, primary_key=True),
    Column("key", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("job_events_key_idx", "job_id", "key", unique=True),
    Index("job_events_created_idx", "created_at"),
)

# Every model call the provider billed, once per attempt: the key is run/activity/attempt, so
# an attempt that is retried after the answer arrived is counted, and counted once.
ledger = Table(
    "ledger",
    metadata,
    Column("key", Text, primary_key=True),
    Column("owner", Text, nullable=True),
    Column("job_id", Text, nullable=False),
    Column("job_type", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    # NULL: the model has no known price.
    Column("cost_usd", Numeric(20, 10), nullable=True),
    # A call answered from the response cache: no cost, and what it would have cost.
    Column("cache_hit", Boolean, nullable=False, server_default="false"),
    Column("saved_cost_usd", Numeric(20, 10), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ledger_owner_time_idx", "owner", "created_at"),
    Index("ledger_job_idx", "job_id"),
)

# Rate-limit hits per key and window, shared by every API replica (store/rate_limits.py).
rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    Column("key", Text, primary_key=True),
    Column("window_index", BigInteger, primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("rate_limit_windows_expiry_idx", "expires_at"),
)

# Model calls as they are admitted, per model, so every worker counts the same requests and
# tokens against a provider's per-minute limits (store/model_calls.py).
model_calls = Table(
    "model_calls",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("model", Text, nullable=False),
    # When it was admitted, and when its answer was in: the provider saw the request in
    # between, so the call counts until a window after it settled.
    Column("at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    # Estimated when admitted, corrected from the response's usage.
    Column("tokens", Integer, nullable=False),
    Index("model_calls_model_at_idx", "model", "at"),
    Index("model_calls_model_settled_idx", "model", "settled_at"),
)

# A model the provider said to leave alone (a 429, or no requests or tokens remaining) until then.
model_blocks = Table(
    "model_blocks",
    metadata,
    Column("model", Text, primary_key=True),
    Column("until", DateTime(timezone=True), nullable=False),
)

# Every model answer, keyed by the step that asked (run/activity), written before the activity
# reports it: a retry of that step takes the answer from here instead of paying again.
model_journal = Table(
    "model_journal",
    metadata,
    Column("key", Text, primary_key=True),
    Column("answer", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("model_journal_created_idx", "created_at"),
)

# Answers shared across runs: the key is a digest of everything that changes the answer (and
# of the owner, unless the scope is global).
model_cache = Table(
    "model_cache",
    metadata,
    Column("key", Text, primary_key=True),
    Column("answer", JSONB, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("model_cache_expiry_idx", "expires_at"),
)

# The payload keys of each deployment ("<namespace>/<task queue>"), by id: a fingerprint
# (never the key), and since when a process encrypts with it (store/encryption_keys.py).
encryption_keys = Table(
    "encryption_keys",
    metadata,
    Column("deployment", Text, primary_key=True),
    Column("key_id", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("primary_since", DateTime(timezone=True), nullable=True),
)

# Each owner's running jobs (migration 0011): admitted under a per-owner lock before a start,
# removed by the job's final event (store/running_jobs.py).
running_jobs = Table(
    "running_jobs",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("running_jobs_owner_idx", "owner"),
)


# Each owner's webhook signing secret; `previous` still signs until its grace period ends.
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("owner", Text, primary_key=True),
    Column("secret", Text, nullable=False),
    Column("previous", Text, nullable=True),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
)

# The last webhook message of each job (a WebhookMessage), for a redelivery.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("message", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("webhook_messages_updated_idx", "updated_at"),
)


# A reviewer's claim on a waiting question: others see it, and may not answer it, until it
# expires or is released.
inbox_claims = Table(
    "inbox_claims",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("question_id", Text, primary_key=True),
    Column("reviewer", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("inbox_claims_expires_idx", "expires_at"),
)


# What each job was asked to do, as the API accepted it: a rerun starts from it with edits.
job_requests = Table(
    "job_requests",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("input", JSONB, nullable=False),
    Column("options", JSONB, nullable=False),
    # A rerun's parent job and the step it ran fresh from.
    Column("parent", Text, nullable=True),
    Column("from_step", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("job_requests_parent_idx", "owner", "parent"),
    Index("job_requests_created_idx", "created_at"),
)

# Every step a job took, by its stable name: the request (and its digest), the answer or
# tool result, and where it came from. Reruns and strict replay answer from these rows; an
# imported cassette's steps live here under the cassette's id.
job_steps = Table(
    "job_steps",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("request", JSONB, nullable=False),
    Column("digest", Text, nullable=False),
    Column("answer", JSONB, nullable=False),
    Column("model", Text, nullable=True),
    Column("source", Text, nullable=False),
    Column("usage", JSONB, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("job_steps_ended_idx", "ended_at"),
)

# Embedding dimensions searched through an HNSW index; others are searched exactly.
INDEXED_DIMENSIONS = (256, 384, 768, 1024, 1536)

# An owner's named set of documents for retrieval, and the embedding model it was built with.
collections = Table(
    "collections",
    metadata,
    Column("owner", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("embedding_model", Text, nullable=False),
    Column("dimension", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), server_default=func.now()),
)

collection_documents = Table(
    "collection_documents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("collection", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("source", Text, nullable=True),
    Column("chunks", Integer, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now()),
    ForeignKeyConstraint(
        ["owner", "collection"], ["collections.owner", "collections.name"], ondelete="CASCADE"
    ),
    UniqueConstraint("owner", "collection", "name"),
)

# A document's passages: text, outline, digest, embedding (any dimension; the common ones
# have an HNSW index each) and full-text vector.
collection_chunks = Table(
    "collection_chunks",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("collection", Text, nullable=False),
    Column(
        "document_id",
        Text,
        ForeignKey("collection_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("headings", ARRAY(Text), nullable=False),
    Column("text", Text, nullable=False),
    Column("digest", Text, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("dimension", Integer, nullable=False),
    Column("embedding", Vector(), nullable=False),
    Column("search_text", TSVECTOR, Computed("to_tsvector('english', text)", persisted=True)),
    Index("collection_chunks_scope_idx", "owner", "collection"),
    Index("collection_chunks_document_idx", "document_id"),
    Index("collection_chunks_text_idx", "search_text", postgresql_using="gin"),
    # One HNSW index per common dimension, on the column cast to it (migration 0014).
    *(
        Index(
            f"collection_chunks_hnsw_{dimension}",
            text(f"(embedding::vector({dimension})) vector_cosine_ops"),
            postgresql_using="hnsw",
            postgresql_where=text(f"dimension = {dimension}"),
        )
        for dimension in INDEXED_DIMENSIONS
    ),
)


# Every embedding an owner paid for, by owner, model and text: a retried or repeated
# ingest finds it here instead of asking the model again.
embedding_cache = Table(
    "embedding_cache",
    metadata,
    Column("key", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("embedding", Vector(), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("embedding_cache_created_idx", "created_at"),
)
