"""Each owner's running jobs, so the running-jobs cap is exact: starts of one owner are
admitted one at a time, against a count that includes every job admitted before."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.tables import running_jobs


@dataclass(frozen=True)
class Admitted:
    job_id: str
    started_at: datetime


class RunningJobs:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def admit(self, owner: str, job_id: str, limit: int) -> list[Admitted] | None:
        """Admit `job_id` as one of `owner`'s running jobs unless `limit` of them run already:
        None when admitted (or admitted before), else the running ones."""
        async with self._engine.begin() as conn:
            # The owner's starts take turns, so two cannot both take the last place.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"run:{owner}"}
            )
            running = [
                Admitted(str(row.job_id), row.started_at)
                for row in await conn.execute(
                    select(running_jobs.c.job_id, running_jobs.c.started_at).where(
                        running_jobs.c.owner == owner
                    )
                )
            ]
            if any(job.job_id == job_id for job in running):
                return None
            if len(running) >= limit:
                return running
            await conn.execute(
                insert(running_jobs)
                .values(job_id=job_id, owner=owner)
                .on_conflict_do_nothing(index_elements=["job_id"])
            )
        return None

    async def forget(self, job_ids: Sequence[str]) -> None:
        """These jobs run no more (ended without a final event, or never started)."""
        if not job_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(delete(running_jobs).where(running_jobs.c.job_id.in_(job_ids)))
