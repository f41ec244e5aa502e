"""What each job was asked to do, as the API accepted it, and which job it reruns: a rerun
starts from its parent's request with the caller's edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reads import autocommit
from store.tables import job_requests
from store.text import storable


@dataclass(frozen=True)
class JobRequest:
    job_id: str
    owner: str
    type: str
    input: dict[str, Any]
    options: dict[str, Any]
    parent: str | None = None
    from_step: str | None = None
    created_at: datetime | None = None


class JobRequests:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def keep(self, request: JobRequest) -> None:
        """Keep a job's request; a replayed start (the same job id) changes nothing."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(job_requests)
                .values(
                    job_id=request.job_id,
                    owner=request.owner,
                    type=request.type,
                    input=storable(request.input),
                    options=request.options,
                    parent=request.parent,
                    from_step=request.from_step,
                )
                .on_conflict_do_nothing(index_elements=["job_id"])
            )

    async def get(self, owner: str, job_id: str) -> JobRequest | None:
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(job_requests).where(
                        job_requests.c.job_id == job_id, job_requests.c.owner == owner
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return JobRequest(
            job_id=row.job_id,
            owner=row.owner,
            type=row.type,
            input=dict(row.input),
            options=dict(row.options),
            parent=row.parent,
            from_step=row.from_step,
            created_at=row.created_at,
        )

    async def reruns(self, owner: str, job_id: str, limit: int = 100) -> list[str]:
        """The owner's jobs that rerun `job_id`, oldest first."""
        async with self._reads.connect() as conn:
            rows = await conn.execute(
                select(job_requests.c.job_id)
                .where(job_requests.c.owner == owner, job_requests.c.parent == job_id)
                .order_by(job_requests.c.created_at, job_requests.c.job_id)
                .limit(limit)
            )
        return [r.job_id for r in rows]

    async def prune(self, keep: timedelta, batch: int = 10_000) -> int:
        """Remove up to `batch` requests older than `keep`; returns how many went."""
        old = select(job_requests.c.job_id).where(job_requests.c.created_at < func.now() - keep)
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(job_requests).where(job_requests.c.job_id.in_(old.limit(batch)))
            )
        return int(gone.rowcount)
