"""The tables the stores use. Migrations under `store/migrations/` create them; a test checks
that the migrated schema and these definitions agree."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Computed,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

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
