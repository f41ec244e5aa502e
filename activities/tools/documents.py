"""`search_documents`: full-text search (SQLite FTS5) over the documents an owner gave its jobs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from activities.sqlite import connect, prepare
from activities.tools.registry import ToolContext, tool

_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS documents USING fts5(
    name, text, owner UNINDEXED, job_id UNINDEXED
);
"""


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=200_000)


class DocumentStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        prepare(path, _SCHEMA)

    async def put(self, owner: str, job_id: str, documents: list[Document]) -> int:
        return await asyncio.to_thread(self._put, owner, job_id, documents)

    def _put(self, owner: str, job_id: str, documents: list[Document]) -> int:
        with connect(self.path) as db:
            for doc in documents:
                # Delete-then-insert keeps a retried store from indexing a document twice.
                db.execute(
                    "DELETE FROM documents WHERE owner = ? AND job_id = ? AND name = ?",
                    (owner, job_id, doc.name),
                )
                db.execute(
                    "INSERT INTO documents (name, text, owner, job_id) VALUES (?, ?, ?, ?)",
                    (doc.name, doc.text, owner, job_id),
                )
        return len(documents)

    async def search(self, owner: str, query: str, limit: int) -> list[tuple[str, str]]:
        return await asyncio.to_thread(self._search, owner, query, limit)

    def _search(self, owner: str, query: str, limit: int) -> list[tuple[str, str]]:
        # Quote each word: the model's query is data, never FTS5 syntax.
        words = re.findall(r"\w+", query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        with connect(self.path) as db:
            rows = db.execute(
                "SELECT name, snippet(documents, 1, '[', ']', '…', 24) FROM documents "
                "WHERE documents MATCH ? AND owner = ? ORDER BY bm25(documents) LIMIT ?",
                (match, owner, limit),
            ).fetchall()
        return [(str(name), str(snippet)) for name, snippet in rows]


class SearchDocumentsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=300, description="Words to look for.")
    limit: int = Field(5, ge=1, le=20, description="At most this many matches.")


@tool()
async def search_documents(args: SearchDocumentsArgs, ctx: ToolContext) -> str:
    """Search the documents given to this job (and the caller's earlier jobs) by keywords;
    returns matching document names with the matching passages in [brackets]."""
    hits = await ctx.documents.search(ctx.owner, args.query, args.limit)
    if not hits:
        return "no matching documents"
    return "\n".join(f"{name}: {snippet}" for name, snippet in hits)
