"""The model-answer journal, the cross-run response cache, and cache hits in the ledger.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ledger",
        sa.Column("cache_hit", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("ledger", sa.Column("saved_cost_usd", sa.Numeric(20, 10), nullable=True))
    op.create_table(
        "model_journal",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("answer", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("model_journal_created_idx", "model_journal", ["created_at"])
    op.create_table(
        "model_cache",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("answer", postgresql.JSONB(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("model_cache_expiry_idx", "model_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_table("model_cache")
    op.drop_table("model_journal")
    op.drop_column("ledger", "saved_cost_usd")
    op.drop_column("ledger", "cache_hit")
