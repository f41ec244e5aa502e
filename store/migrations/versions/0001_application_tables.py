"""Application tables: conversations, documents with full-text search, tickets, the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "conversation_messages",
        sa.Column("conversation_id", sa.Text(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("message", postgresql.JSONB(), nullable=False),
        _created_at(),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', name || ' ' || body)", persisted=True),
            nullable=False,
        ),
        _created_at(),
    )
    op.create_index("documents_owner_idx", "documents", ["owner"])
    op.create_index("documents_search_idx", "documents", ["search"], postgresql_using="gin")
    op.create_table(
        "tickets",
        sa.Column("idempotency_key", sa.Text(), primary_key=True),
        sa.Column("ticket_id", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        _created_at(),
    )
    op.create_index("tickets_job_idx", "tickets", ["job_id"])
    op.create_table(
        "outbox",
        sa.Column("idempotency_key", sa.Text(), primary_key=True),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _created_at(),
    )
    op.create_index("outbox_job_idx", "outbox", ["job_id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("tickets")
    op.drop_table("documents")
    op.drop_table("conversation_messages")
