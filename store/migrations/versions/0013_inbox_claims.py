"""inbox_claims: which reviewer is working on which waiting question, until when.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_claims",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Text, primary_key=True),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("inbox_claims_expires_idx", "inbox_claims", ["expires_at"])


def downgrade() -> None:
    op.drop_table("inbox_claims")
