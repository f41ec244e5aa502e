"""Each job's event log: append-only, gap-free offsets per job, a wake-up per append."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reads import autocommit
from store.tables import job_event_heads as heads
from store.tables import job_events as events
from store.text import storable

# The NOTIFY channel an append wakes readers on; the payload is the job id.
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
        self._reads = autocommit(engine)

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

    async def append(self, job_id: str, batch: Sequence[NewEvent]) -> int:
        """Append the events whose keys are new, in order; returns how many were added."""
        if not batch:
            return 0
        async with self._engine.begin() as conn:
            # Creating or touching the head row locks it until commit.
            next_offset = (
                await conn.execute(
                    insert(heads)
                    .values(job_id=job_id)
                    .on_conflict_do_update(
                        index_elements=["job_id"], set_={"updated_at": func.now()}
                    )
                    .returning(heads.c.next_offset)
                )
            ).scalar_one()
            known = set(
                (
                    await conn.execute(
                        select(events.c.key).where(
                            events.c.job_id == job_id,
                            events.c.key.in_([event.key for event in batch]),
                        )
                    )
                ).scalars()
            )
            fresh = [event for event in batch if event.key not in known]
            if not fresh:
                return 0
            await conn.execute(
                insert(events).values(
                    [
                        {
                            "job_id": job_id,
                            "offset": next_offset + i,
                            "key": event.key,
                            "type": event.type,
                            "data": storable(event.data),
                        }
                        for i, event in enumerate(fresh)
                    ]
                )
            )
            # The wake-up rides on the head's update; delivered at commit to every listening
            # API process.
            await conn.execute(
                update(heads)
                .where(heads.c.job_id == job_id)
                .values(next_offset=next_offset + len(fresh))
                .returning(func.pg_notify(CHANNEL, job_id))
            )
        return len(fresh)

    async def head(self, job_id: str) -> LogHead | None:
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(heads.c.owner, heads.c.next_offset, heads.c.trimmed_through).where(
                        heads.c.job_id == job_id
                    )
                )
            ).first()
        if row is None:
            return None
        return LogHead(row.owner, int(row.next_offset), int(row.trimmed_through))

    async def read(self, job_id: str, after: int, limit: int = 500) -> list[StoredEvent]:
        """Up to `limit` events with offsets above `after`, in order."""
        async with self._reads.connect() as conn:
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
