"""job_event_heads.progress: a running job's progress, written with its events.

`GET /v1/jobs/{id}` reads it instead of asking a worker, so a job's status answers in
milliseconds whether its workers are busy, paused or gone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0007's function with a third argument: the progress as of the batch's last
# event, stored on the head row the append locks anyway (NULL keeps what is there).
APPEND = """
CREATE FUNCTION append_job_events(p_job text, p_events jsonb, p_progress jsonb)
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

    IF added > 0 THEN
        UPDATE job_event_heads SET next_offset = first_offset + added WHERE job_id = p_job;
        -- Delivered at commit, to every listening API process.
        PERFORM pg_notify('job_events', p_job);
    END IF;
    RETURN added;
END
$$
"""


def upgrade() -> None:
    op.add_column("job_event_heads", sa.Column("progress", JSONB, nullable=True))
    op.execute("DROP FUNCTION append_job_events(text, jsonb)")
    op.execute(APPEND)


def downgrade() -> None:
    op.execute("DROP FUNCTION append_job_events(text, jsonb, jsonb)")
    op.drop_column("job_event_heads", "progress")
