"""append_job_events(): a job's event append as one statement, one round trip.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same steps the store took in five statements. Each statement of a volatile PL/pgSQL
# function takes a new snapshot, so once the head row's lock is held, the key check sees
# every append that committed before: offsets stay gap-free and a key is stored once.
APPEND = """
CREATE FUNCTION append_job_events(p_job text, p_events jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    first_offset bigint;
    added integer;
BEGIN
    INSERT INTO job_event_heads (job_id) VALUES (p_job)
    ON CONFLICT (job_id) DO UPDATE SET updated_at = now()
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
    op.execute(APPEND)


def downgrade() -> None:
    op.execute("DROP FUNCTION append_job_events(text, jsonb)")
