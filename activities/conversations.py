"""Agent conversations as a claim check: messages live here, workflows pass only positions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from activities.sqlite import connect, prepare

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_messages (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
"""


class ConversationStore:
    """Messages at fixed positions: writing position n again (a retry) replaces, never appends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        prepare(path, _SCHEMA)

    async def extend(
        self, conversation_id: str, start: int, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Write `messages` at positions start.., then return the conversation up to their end."""
        return await asyncio.to_thread(self._extend, conversation_id, start, messages)

    def _extend(
        self, conversation_id: str, start: int, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        end = start + len(messages)
        with connect(self.path) as db:
            db.executemany(
                "INSERT OR REPLACE INTO conversation_messages VALUES (?, ?, ?)",
                [(conversation_id, start + i, json.dumps(m)) for i, m in enumerate(messages)],
            )
            rows = db.execute(
                "SELECT seq, message FROM conversation_messages "
                "WHERE conversation_id = ? AND seq < ? ORDER BY seq",
                (conversation_id, end),
            ).fetchall()
        if [seq for seq, _ in rows] != list(range(end)):
            raise LookupError(f"conversation {conversation_id} has gaps before position {end}")
        return [json.loads(message) for _, message in rows]
