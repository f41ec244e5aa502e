"""`create_ticket`: a side effect, written once per idempotency key however often it is retried."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from activities.sqlite import connect, prepare
from activities.tools.registry import ToolContext, tool

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    idempotency_key TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    job_id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    priority TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


class CreateTicketArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    priority: Literal["low", "normal", "high"] = "normal"


class TicketStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        prepare(path, _SCHEMA)

    async def create(
        self, key: str, owner: str, job_id: str, args: CreateTicketArgs
    ) -> tuple[str, bool]:
        """(ticket id, created); created is False when this key was seen before (a retry)."""
        return await asyncio.to_thread(self._create, key, owner, job_id, args)

    def _create(
        self, key: str, owner: str, job_id: str, args: CreateTicketArgs
    ) -> tuple[str, bool]:
        ticket_id = "TCK-" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()
        with connect(self.path) as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    ticket_id,
                    owner,
                    job_id,
                    args.title,
                    args.body,
                    args.priority,
                    datetime.now(UTC).isoformat(),
                ),
            )
        return ticket_id, cursor.rowcount == 1

    def for_job(self, job_id: str) -> list[tuple[str, str]]:
        """(ticket id, title) of one job's tickets."""
        with connect(self.path) as db:
            rows = db.execute(
                "SELECT ticket_id, title FROM tickets WHERE job_id = ? ORDER BY created_at",
                (job_id,),
            ).fetchall()
        return [(str(t), str(title)) for t, title in rows]


@tool(side_effects=True)
async def create_ticket(args: CreateTicketArgs, ctx: ToolContext) -> str:
    """Open a support ticket with a title, a body and a priority; returns the ticket id."""
    ticket_id, created = await ctx.tickets.create(ctx.idempotency_key, ctx.owner, ctx.job_id, args)
    return f"created ticket {ticket_id}" if created else f"ticket {ticket_id} already exists"
