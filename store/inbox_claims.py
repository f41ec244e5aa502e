"""Reviewers' claims on waiting questions: one holder at a time, until the claim expires."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.tables import inbox_claims


@dataclass(frozen=True)
class Claim:
    job_id: str
    question_id: str
    reviewer: str
    expires_at: datetime


class InboxClaims:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, job_id: str, question_id: str, reviewer: str, ttl: timedelta) -> Claim:
        """Claim the question for `reviewer` (or extend their claim) unless another reviewer
        holds it: the claim that stands afterwards, whoever holds it."""
        table = inbox_claims
        expires = func.now() + text(f"interval '{int(ttl.total_seconds())} seconds'")
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(table)
                .values(
                    job_id=job_id, question_id=question_id, reviewer=reviewer, expires_at=expires
                )
                .on_conflict_do_update(
                    index_elements=["job_id", "question_id"],
                    set_={"reviewer": reviewer, "expires_at": expires},
                    # Taken over only when it is the holder's own, or has lapsed.
                    where=or_(table.c.reviewer == reviewer, table.c.expires_at <= func.now()),
                )
            )
            row = (
                await conn.execute(
                    select(table).where(
                        table.c.job_id == job_id, table.c.question_id == question_id
                    )
                )
            ).one()
        return Claim(row.job_id, row.question_id, row.reviewer, row.expires_at)

    async def release(self, job_id: str, question_id: str, reviewer: str) -> bool:
        """Let go of the reviewer's own claim; False when they held none."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                delete(inbox_claims).where(
                    inbox_claims.c.job_id == job_id,
                    inbox_claims.c.question_id == question_id,
                    inbox_claims.c.reviewer == reviewer,
                )
            )
        return bool(done.rowcount)

    async def holders(self, questions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Claim]:
        """The claims standing on these (job id, question id) pairs."""
        if not questions:
            return {}
        table = inbox_claims
        wanted = or_(*(and_(table.c.job_id == j, table.c.question_id == q) for j, q in questions))
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(table).where(wanted, table.c.expires_at > func.now()))
            return {
                (r.job_id, r.question_id): Claim(r.job_id, r.question_id, r.reviewer, r.expires_at)
                for r in rows
            }

    async def prune(self, batch: int = 10_000) -> int:
        """Remove up to `batch` lapsed claims (the retention Schedule calls this)."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                text(
                    "DELETE FROM inbox_claims WHERE ctid IN (SELECT ctid FROM inbox_claims "
                    "WHERE expires_at <= now() LIMIT :batch)"
                ),
                {"batch": batch},
            )
        return int(done.rowcount or 0)
