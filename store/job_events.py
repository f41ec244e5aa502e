"""Each job's event log: append-only, gap-free offsets per job, a wake-up per append."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reads import autocommit
from store.tables import job_event_heads as heads
from store.tables import job_events as events
from store.text import storable

# The NOTIFY channel an append wakes readers on (named in append_job_events too); the payload
# is the job id.
CHANNEL = "job_events"
TOKEN_TYPE = "token"  # noqa: S105 (the event type, not a secret)


@dataclass(frozen=True)
class NewEvent:
    """An event to append. `key` is the writer's natural key: appending it again adds nothing."""

    key: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    offset: int
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class LogHead:
    owner: str | None
    next_offset: int
    # Retention removed events up to here (-1: none), so a reader behind it may miss some.
    trimmed_through: int
    # The progress the job published with its latest events (None before any).
    progress: dict[str, Any] | None = None


_TRIM = text(
    """
    WITH gone AS (
        DELETE FROM job_events WHERE (job_id, "offset") IN (
            SELECT job_id, "offset" FROM job_events
            WHERE created_at < :cutoff OR (type = :token AND created_at < :token_cutoff)
            LIMIT :batch
        )
        RETURNING job_id, "offset"
    ),
    per_job AS (SELECT job_id, max("offset") AS through FROM gone GROUP BY job_id),
    moved AS (
        UPDATE job_event_heads h SET trimmed_through = greatest(h.trimmed_through, p.through)
        FROM per_job p WHERE h.job_id = p.job_id
        RETURNING 1
    )
    SELECT count(*) FROM gone
    """
)

_FORGET_EMPTY_HEADS = text(
    """
    DELETE FROM job_event_heads h
    WHERE h.updated_at < :cutoff
      AND NOT EXISTS (SELECT 1 FROM job_events e WHERE e.job_id = h.job_id)
    """
)


class JobEventLog:
    """Appends lock the job's head row, so offsets commit in order and readers see no holes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Reads and the append function: single statements, no BEGIN and COMMIT around them.
        self._autocommit = autocommit(engine)

    async def register(self, job_id: str, owner: str) -> None:
        """Record who owns `job_id` before it starts, so watching it needs no Temporal call."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(heads)
                .values(job_id=job_id, owner=owner)
                .on_conflict_do_update(
                    index_elements=["job_id"],
                    set_={"owner": func.coalesce(heads.c.owner, owner)},
                )
            )

    async def append(
        self, job_id: str, batch: Sequence[NewEvent], progress: dict[str, Any] | None = None
    ) -> int:
        """Append the events whose keys are new, in order; returns how many were added.
        `progress`, when given, becomes the job's progress as the API shows it.

        One statement (the `append_job_events` function, migrations 0007 and 0009), so one
        round trip and no transaction around it: lock the head, skip known keys, insert at
        gap-free offsets, move the head, and NOTIFY (delivered at commit)."""
        if not batch and progress is None:
            return 0
        events = [{"key": e.key, "type": e.type, "data": storable(e.data)} for e in batch]
        call = func.append_job_events(
            job_id,
            bindparam("events", events, type_=JSONB),
            bindparam("progress", storable(progress) if progress else None, type_=JSONB),
        )
        async with self._autocommit.connect() as conn:
            return int((await conn.execute(select(call))).scalar_one())

    async def head(self, job_id: str) -> LogHead | None:
        async with self._autocommit.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        heads.c.owner,
                        heads.c.next_offset,
                        heads.c.trimmed_through,
                        heads.c.progress,
                    ).where(heads.c.job_id == job_id)
                )
            ).first()
        if row is None:
            return None
        return LogHead(row.owner, int(row.next_offset), int(row.trimmed_through), row.progress)

    async def read(self, job_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        """Up to `limit` events with offsets above `after`, in order."""
        async with self._autocommit.connect() as conn:
            rows = (
                await conn.execute(
                    select(events.c.offset, events.c.type, events.c.data)
                    .where(events.c.job_id == job_id, events.c.offset > after)
                    .order_by(events.c.offset)
                    .limit(limit)
                )
            ).all()
        return [StoredEvent(int(r.offset), str(r.type), dict(r.data)) for r in rows]

    async def trim(
        self, cutoff: datetime, token_cutoff: datetime, batch: int = 10_000
    ) -> tuple[int, bool]:
        """Remove one batch of events older than the cutoffs (tokens have their own).

        Returns how many were removed and whether more remain.
        """
        async with self._engine.begin() as conn:
            removed = (
                await conn.execute(
                    _TRIM.bindparams(
                        bindparam("cutoff", cutoff),
                        bindparam("token_cutoff", token_cutoff),
                        bindparam("token", TOKEN_TYPE),
                        bindparam("batch", batch),
                    )
                )
            ).scalar_one()
        return int(removed), int(removed) >= batch

    async def forget_empty(self, cutoff: datetime) -> int:
        """Drop head rows of jobs with no events left and no activity since `cutoff`."""
        async with self._engine.begin() as conn:
            result = await conn.execute(_FORGET_EMPTY_HEADS.bindparams(cutoff=cutoff))
        return int(result.rowcount)
