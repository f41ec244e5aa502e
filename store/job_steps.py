"""Each job's steps as they happened, by name: the records reruns, strict replay and
cassettes are made of. An imported cassette's steps are kept here under its id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.contracts.recording import StepKind
from store.reads import autocommit
from store.tables import job_steps
from store.text import storable


@dataclass(frozen=True)
class StepRow:
    job_id: str
    name: str
    owner: str
    kind: StepKind
    request: dict[str, Any]
    digest: str
    answer: dict[str, Any]
    model: str | None
    source: str
    usage: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None = None


class StepRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def record(self, rows: Sequence[StepRow]) -> None:
        """Keep each step's first record: a retried step writes the same name again and
        changes nothing."""
        if not rows:
            return
        values = [
            {
                "job_id": r.job_id,
                "name": r.name,
                "owner": r.owner,
                "kind": r.kind,
                "request": storable(r.request),
                "digest": r.digest,
                "answer": storable(r.answer),
                "model": r.model,
                "source": r.source,
                "usage": r.usage,
                "started_at": r.started_at,
                # The writer's clock, as for started_at: a fork compares the two.
                "ended_at": r.ended_at or datetime.now(UTC),
            }
            for r in rows
        ]
        statement = insert(job_steps).on_conflict_do_nothing(index_elements=["job_id", "name"])
        async with self._engine.begin() as conn:
            await conn.execute(statement, values)

    async def step(self, owner: str, job_id: str, name: str) -> StepRow | None:
        """The owner's record of one step of one job (or cassette), or None."""
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(job_steps).where(
                        job_steps.c.job_id == job_id,
                        job_steps.c.name == name,
                        job_steps.c.owner == owner,
                    )
                )
            ).one_or_none()
        return None if row is None else _row(row)

    async def steps(self, owner: str, job_id: str) -> list[StepRow]:
        """Every step of the owner's job (or cassette), in the order they started."""
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(job_steps)
                    .where(job_steps.c.job_id == job_id, job_steps.c.owner == owner)
                    .order_by(job_steps.c.started_at, job_steps.c.ended_at, job_steps.c.name)
                )
            ).all()
        return [_row(r) for r in rows]

    async def names(self, owner: str, job_id: str) -> list[str]:
        """The names of the owner's job's (or cassette's) steps, in the order they started."""
        async with self._reads.connect() as conn:
            rows = await conn.execute(
                select(job_steps.c.name)
                .where(job_steps.c.job_id == job_id, job_steps.c.owner == owner)
                .order_by(job_steps.c.started_at, job_steps.c.ended_at, job_steps.c.name)
            )
        return [r.name for r in rows]

    async def prune(self, keep: timedelta, batch: int = 10_000) -> int:
        """Remove up to `batch` steps that ended more than `keep` ago; returns how many went."""
        old = select(job_steps.c.job_id, job_steps.c.name).where(
            job_steps.c.ended_at < func.now() - keep
        )
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(job_steps).where(
                    func.row(job_steps.c.job_id, job_steps.c.name).in_(old.limit(batch))
                )
            )
        return int(gone.rowcount)


def _row(row: Any) -> StepRow:
    return StepRow(
        job_id=row.job_id,
        name=row.name,
        owner=row.owner,
        kind=row.kind,
        request=dict(row.request),
        digest=row.digest,
        answer=dict(row.answer),
        model=row.model,
        source=row.source,
        usage=dict(row.usage),
        started_at=row.started_at,
        ended_at=row.ended_at,
    )
