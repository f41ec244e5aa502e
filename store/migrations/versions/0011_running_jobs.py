"""running_jobs: each owner's running jobs, counted exactly at every start.

The API admits a job here, under a per-owner lock, before it starts it; a job's final event
(append_job_events) removes it; a job that ended without one (terminated, timed out) is
found and removed when its owner reaches the cap.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0009's function, which now also ends a job's place among the running.
APPEND = """
CREATE OR REPLACE FUNCTION append_job_events(p_job text, p_events jsonb, p_progress jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    first_offset bigint;
    added integer;
BEGIN
    INSERT INTO job_event_heads (job_id, progress) VALUES (p_job, p_progress)
    ON CONFLICT (job_id) DO UPDATE
        SET updated_at = now(),
            progress = coalesce(excluded.progress, job_event_heads.progress)
    RETURNING next_offset INTO first_offset;

    WITH batch AS (
        SELECT e ->> 'key' AS key, e ->> 'type' AS type, e -> 'data' AS data, position
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS b(e, position)
    ), fresh AS (
        SELECT key, type, data, row_number() OVER (ORDER BY position) - 1 AS i
        FROM batch
        WHERE NOT EXISTS (
            SELECT 1 FROM job_events WHERE job_id = p_job AND job_events.key = batch.key
        )
    )
    INSERT INTO job_events (job_id, "offset", key, type, data)
    SELECT p_job, first_offset + i, key, type, data FROM fresh;
    GET DIAGNOSTICS added = ROW_COUNT;

    -- A job's final event ends its place among its owner's running jobs.
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_events) AS e
        WHERE e ->> 'type' IN ('completed', 'failed', 'cancelled')
    ) THEN
        DELETE FROM running_jobs WHERE job_id = p_job;
    END IF;

    IF added > 0 THEN
        UPDATE job_event_heads SET next_offset = first_offset + added WHERE job_id = p_job;
        -- Delivered at commit, to every listening API process.
        PERFORM pg_notify('job_events', p_job);
    END IF;
    RETURN added;
END
$$
"""

# Migration 0009's function as it was, for a downgrade.
PREVIOUS = APPEND.replace(
    """    -- A job's final event ends its place among its owner's running jobs.
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_events) AS e
        WHERE e ->> 'type' IN ('completed', 'failed', 'cancelled')
    ) THEN
        DELETE FROM running_jobs WHERE job_id = p_job;
    END IF;

""",
    "",
)


def upgrade() -> None:
    op.create_table(
        "running_jobs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("running_jobs_owner_idx", "running_jobs", ["owner"])
    op.execute(APPEND)


def downgrade() -> None:
    op.execute(PREVIOUS)
    op.drop_table("running_jobs")
