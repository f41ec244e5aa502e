"""webhook_secrets and webhook_messages: each owner's signing secret (and the one it replaced,
which still signs for a grace period), and the last webhook message of each job, which
`POST /v1/jobs/{id}/webhook/redeliver` sends again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_secrets",
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous", sa.Text, nullable=True),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("message", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("webhook_messages_updated_idx", "webhook_messages", ["updated_at"])


def downgrade() -> None:
    op.drop_table("webhook_messages")
    op.drop_table("webhook_secrets")
