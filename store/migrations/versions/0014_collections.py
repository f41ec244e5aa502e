"""collections, collection_documents, collection_chunks: an owner's documents for retrieval,
cut into passages with their embeddings (pgvector) and their full-text vectors; and
embedding_cache, every embedding an owner paid for, by model and text (a retry or a
re-ingest never pays twice).

Chunks of every dimension share one table: `embedding` has no fixed dimension, and each
common dimension has its own partial HNSW index on `embedding::vector(D)`. Another dimension
is searched exactly (no index): HNSW indexes `vector` up to 2,000 dimensions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from store.migrate import require_extension

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The dimensions with an HNSW index: the offline model's, and common embedding models'.
INDEXED_DIMENSIONS = (256, 384, 768, 1024, 1536)


def upgrade() -> None:
    # A server without pgvector stops here with one line naming it, not a stack of errors.
    require_extension(op.get_bind(), "vector")
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "collections",
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("embedding_model", sa.Text, nullable=False),
        sa.Column("dimension", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "collection_documents",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["owner", "collection"],
            ["collections.owner", "collections.name"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("owner", "collection", "name"),
    )
    op.create_table(
        "collection_chunks",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column(
            "document_id",
            sa.Text,
            sa.ForeignKey("collection_documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("headings", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("dimension", sa.Integer, nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        sa.Column(
            "search_text",
            postgresql.TSVECTOR,
            sa.Computed("to_tsvector('english', text)", persisted=True),
        ),
    )
    op.create_index("collection_chunks_scope_idx", "collection_chunks", ["owner", "collection"])
    op.create_index("collection_chunks_document_idx", "collection_chunks", ["document_id"])
    op.create_index(
        "collection_chunks_text_idx",
        "collection_chunks",
        ["search_text"],
        postgresql_using="gin",
    )
    op.create_table(
        "embedding_cache",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("embedding_cache_created_idx", "embedding_cache", ["created_at"])
    for dimension in INDEXED_DIMENSIONS:
        op.execute(
            f"CREATE INDEX collection_chunks_hnsw_{dimension} ON collection_chunks "
            f"USING hnsw ((embedding::vector({dimension})) vector_cosine_ops) "
            f"WHERE dimension = {dimension}"
        )


def downgrade() -> None:
    op.drop_table("embedding_cache")
    op.drop_table("collection_chunks")
    op.drop_table("collection_documents")
    op.drop_table("collections")
