"""Tickets opened by agents: one row per idempotency key, whichever worker retries the call."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.contracts.tools import CreateTicketArgs
from store.reads import autocommit
from store.tables import tickets as tickets_table


class TicketStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def create(
        self, key: str, owner: str, job_id: str, args: CreateTicketArgs
    ) -> tuple[str, bool]:
        """(ticket id, created); created is False when this key was seen before (a retry)."""
        ticket_id = "TCK-" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()
        async with self._engine.begin() as conn:
            inserted = await conn.execute(
                insert(tickets_table)
                .values(
                    idempotency_key=key,
                    ticket_id=ticket_id,
                    owner=owner,
                    job_id=job_id,
                    title=args.title,
                    body=args.body,
                    priority=args.priority,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(tickets_table.c.ticket_id)
            )
            created = inserted.first() is not None
        return ticket_id, created

    async def for_job(self, job_id: str) -> list[tuple[str, str]]:
        """(ticket id, title) of one job's tickets, oldest first."""
        async with self._reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(tickets_table.c.ticket_id, tickets_table.c.title)
                    .where(tickets_table.c.job_id == job_id)
                    .order_by(tickets_table.c.created_at, tickets_table.c.ticket_id)
                )
            ).all()
        return [(str(row.ticket_id), str(row.title)) for row in rows]
