"""Documents an owner gave its jobs, searched with PostgreSQL's own full-text search."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import cast, func, literal, select
from sqlalchemy.dialects.postgresql import REGCONFIG, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.contracts.tools import Document, DocumentRef, document_id
from store.reads import autocommit
from store.tables import documents as documents_table

_CONFIG = "english"
_WORD = re.compile(r"\w+")


class DocumentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def put(self, owner: str, documents: list[Document]) -> list[DocumentRef]:
        """Store each document once per owner; storing it again (a retry, a re-upload) is a
        no-op that returns the same id."""
        refs = [DocumentRef(id=document_id(owner, d), name=d.name) for d in documents]
        if not documents:
            return refs
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(documents_table)
                .values(
                    [
                        {"id": ref.id, "owner": owner, "name": doc.name, "body": doc.text}
                        for ref, doc in zip(refs, documents, strict=True)
                    ]
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
        return refs

    async def read(self, owner: str, ids: list[str]) -> dict[str, Document]:
        """The owner's documents among `ids`, by id; another owner's id is simply absent."""
        if not ids:
            return {}
        stmt = select(documents_table.c.id, documents_table.c.name, documents_table.c.body).where(
            documents_table.c.owner == owner, documents_table.c.id.in_(ids)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {str(row.id): Document(name=row.name, text=row.body) for row in rows}

    async def search(
        self, owner: str, query: str, limit: int, ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        """(name, passage with matches in [brackets]) of the best-matching documents among
        `ids` (the owner's own; another owner's id finds nothing).

        Any one word may match. The model's text is cut into plain words and joined with
        `or`, so nothing it writes is read as query syntax.
        """
        words = _WORD.findall(query)
        if not words:
            return []
        config = cast(literal(_CONFIG), REGCONFIG)
        tsquery = func.websearch_to_tsquery(config, " or ".join(words))
        passage = func.ts_headline(
            config,
            documents_table.c.body,
            tsquery,
            "StartSel=[, StopSel=], MaxWords=24, MinWords=8, ShortWord=2",
        )
        stmt = (
            select(documents_table.c.name, passage.label("passage"))
            .where(
                documents_table.c.owner == owner,
                documents_table.c.id.in_(list(ids)),
                documents_table.c.search.op("@@")(tsquery),
            )
            .order_by(func.ts_rank(documents_table.c.search, tsquery).desc(), documents_table.c.id)
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(str(row.name), str(row.passage)) for row in rows]
