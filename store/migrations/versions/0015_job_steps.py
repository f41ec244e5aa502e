"""job_requests and job_steps: what each job was asked to do and each step it took, for
reruns from a step, strict replay and cassettes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_requests",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("input", JSONB, nullable=False),
        sa.Column("options", JSONB, nullable=False),
        sa.Column("parent", sa.Text, nullable=True),
        sa.Column("from_step", sa.Text, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("job_requests_parent_idx", "job_requests", ["owner", "parent"])
    op.create_index("job_requests_created_idx", "job_requests", ["created_at"])
    op.create_table(
        "job_steps",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("answer", JSONB, nullable=False),
        sa.Column("model", sa.Text, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("usage", JSONB, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "ended_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("job_steps_ended_idx", "job_steps", ["ended_at"])


def downgrade() -> None:
    op.drop_table("job_steps")
    op.drop_table("job_requests")
