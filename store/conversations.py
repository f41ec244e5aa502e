"""Agent conversations as a claim check: messages live here, workflows pass only positions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.tables import conversation_messages as messages_table
from store.text import storable


class ConversationGap(LookupError):
    """A position before the one asked for was never written: a bug, not a passing fault."""


class ConversationStore:
    """Messages at fixed positions: writing position n again (a retry) replaces, never appends."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(self, conversation_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        """Write `messages` at positions start.. (and read nothing back)."""
        async with self._engine.begin() as conn:
            await self._write(conn, conversation_id, start, messages)

    async def extend(
        self, conversation_id: str, start: int, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Write `messages` at positions start.., then return the conversation up to their end."""
        end = start + len(messages)
        async with self._engine.begin() as conn:
            await self._write(conn, conversation_id, start, messages)
            rows = (
                await conn.execute(
                    select(messages_table.c.seq, messages_table.c.message)
                    .where(
                        messages_table.c.conversation_id == conversation_id,
                        messages_table.c.seq < end,
                    )
                    .order_by(messages_table.c.seq)
                )
            ).all()
        if [row.seq for row in rows] != list(range(end)):
            raise ConversationGap(f"conversation {conversation_id} has gaps before position {end}")
        return [dict(row.message) for row in rows]

    @staticmethod
    async def _write(
        conn: AsyncConnection, conversation_id: str, start: int, messages: list[dict[str, Any]]
    ) -> None:
        if not messages:
            return
        stmt = insert(messages_table).values(
            [
                {"conversation_id": conversation_id, "seq": start + i, "message": storable(m)}
                for i, m in enumerate(messages)
            ]
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["conversation_id", "seq"],
                set_={"message": stmt.excluded.message},
            )
        )
