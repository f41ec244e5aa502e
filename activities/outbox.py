"""The outbox: a SQLite table where a publish lands exactly once, keyed by its idempotency key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from activities.sqlite import connect, prepare

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


class Outbox:
    """`INSERT OR IGNORE` on the key makes a retried publish a no-op instead of a second row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        prepare(path, _SCHEMA)

    async def add(self, key: str, job_id: str, round_number: int, text: str) -> bool:
        """Store the entry; False when this key was stored before (a retry)."""
        return await asyncio.to_thread(self._add, key, job_id, round_number, text)

    def _add(self, key: str, job_id: str, round_number: int, text: str) -> bool:
        with connect(self.path) as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?, ?)",
                (key, job_id, round_number, text, datetime.now(UTC).isoformat()),
            )
            return cursor.rowcount == 1

    def entries(self, job_id: str) -> list[tuple[str, int, str]]:
        """(key, round, text) for one job, oldest first."""
        with connect(self.path) as db:
            rows = db.execute(
                "SELECT idempotency_key, round, text FROM outbox WHERE job_id = ? "
                "ORDER BY created_at",
                (job_id,),
            ).fetchall()
        return [(str(k), int(r), str(t)) for k, r, t in rows]
