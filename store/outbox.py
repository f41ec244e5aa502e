"""The outbox: where a publish lands exactly once, keyed by its idempotency key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reads import autocommit
from store.tables import outbox as outbox_table
from store.text import storable


class Outbox:
    """`ON CONFLICT DO NOTHING` on the key makes a retried publish a no-op, not a second row."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def add(self, key: str, job_id: str, round_number: int, text: str) -> bool:
        """Store the entry; False when this key was stored before (a retry)."""
        async with self._engine.begin() as conn:
            inserted = await conn.execute(
                insert(outbox_table)
                .values(idempotency_key=key, job_id=job_id, round=round_number, text=storable(text))
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(outbox_table.c.idempotency_key)
            )
            return inserted.first() is not None

    async def entries(self, job_id: str) -> list[tuple[str, int, str]]:
        """(key, round, text) for one job, oldest first."""
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        outbox_table.c.idempotency_key, outbox_table.c.round, outbox_table.c.text
                    )
                    .where(outbox_table.c.job_id == job_id)
                    .order_by(outbox_table.c.created_at, outbox_table.c.round)
                )
            ).all()
        return [(str(r.idempotency_key), int(r.round), str(r.text)) for r in rows]
