"""The worker's SQLite file (`AIJOBS_DATA_DIR/aijobs.db`): connecting and creating tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DB_NAME = "aijobs.db"


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One short-lived connection per operation, committed and closed: safe from any thread."""
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            yield db
    finally:
        db.close()


def prepare(path: Path, schema: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        # WAL lets readers (the API's tests, operators) look while the worker writes.
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
