"""acquire_rate_window(): a rate-limit hit as one statement, one round trip.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sliding window counter's hit, as the store took it in six round trips: one key's hits
# take turns (the advisory lock lasts until the statement's transaction ends), the
# database's clock decides the window, and a hit over the limit is not counted.
ACQUIRE = """
CREATE FUNCTION acquire_rate_window(
    p_key text, p_limit integer, p_expiry integer, p_amount integer
) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now_s double precision;
    current_index bigint;
    previous integer;
    current integer;
    previous_weight double precision;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(p_key));
    now_s := extract(epoch FROM clock_timestamp());
    current_index := floor(now_s / p_expiry);
    SELECT coalesce(sum(hits) FILTER (WHERE window_index = current_index - 1), 0),
           coalesce(sum(hits) FILTER (WHERE window_index = current_index), 0)
    INTO previous, current
    FROM rate_limit_windows
    WHERE key = p_key AND window_index IN (current_index - 1, current_index);
    previous_weight := ((current_index + 1) * p_expiry - now_s) / p_expiry;
    IF previous * previous_weight + current + p_amount > p_limit THEN
        RETURN false;
    END IF;
    INSERT INTO rate_limit_windows (key, window_index, hits, expires_at)
    VALUES (p_key, current_index, p_amount, to_timestamp((current_index + 2) * p_expiry))
    ON CONFLICT (key, window_index) DO UPDATE SET hits = rate_limit_windows.hits + p_amount;
    RETURN true;
END
$$
"""


def upgrade() -> None:
    op.execute(ACQUIRE)


def downgrade() -> None:
    op.execute("DROP FUNCTION acquire_rate_window(text, integer, integer, integer)")
