"""Embeddings kept once paid for: by owner, model and text, with the ledger line that paid
for them written in the same transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.ledger import Charge, recording
from store.tables import embedding_cache


def embedding_key(owner: str, model: str, passage: str) -> str:
    return hashlib.sha256(f"{owner}\0{model}\0{passage}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def known(self, keys: Sequence[str]) -> dict[str, list[float]]:
        if not keys:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(embedding_cache.c.key, embedding_cache.c.embedding).where(
                    embedding_cache.c.key.in_(list(keys))
                )
            )
            return {row.key: [float(v) for v in row.embedding] for row in rows}

    async def keep(
        self,
        owner: str,
        model: str,
        embeddings: Mapping[str, Sequence[float]],
        charge: Charge | None,
    ) -> None:
        """The new embeddings and what they cost, together: an attempt that lost its worker
        after this is not billed again, and its retry finds them."""
        async with self._engine.begin() as conn:
            if charge is not None:
                await conn.execute(recording(charge))
            if embeddings:
                await conn.execute(
                    insert(embedding_cache)
                    .values(
                        [
                            {"key": k, "owner": owner, "model": model, "embedding": list(v)}
                            for k, v in embeddings.items()
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )

    async def prune(self, keep: timedelta, batch: int = 10_000) -> int:
        """Remove up to `batch` embeddings older than `keep` (a later ingest of the same text
        pays again; the collections keep their own copies)."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                text(
                    "DELETE FROM embedding_cache WHERE key IN (SELECT key FROM embedding_cache "
                    "WHERE created_at < now() - make_interval(secs => :keep) LIMIT :batch)"
                ),
                {"keep": keep.total_seconds(), "batch": batch},
            )
        return int(done.rowcount or 0)
