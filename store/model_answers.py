"""Model answers kept for reuse: a journal per step (a retry never pays twice) and a cache
across runs (the same request answered once per TTL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.ledger import Charge, recording
from store.reads import autocommit
from store.tables import model_cache, model_journal
from store.text import storable


class ModelAnswers:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = autocommit(engine)

    async def journaled(self, key: str) -> dict[str, Any] | None:
        async with self._reads.connect() as conn:
            answer = (
                await conn.execute(select(model_journal.c.answer).where(model_journal.c.key == key))
            ).scalar_one_or_none()
        return None if answer is None else dict(answer)

    async def journal(self, key: str, answer: dict[str, Any]) -> None:
        """Keep the first answer a step got; a later write for the same step changes nothing."""
        async with self._engine.begin() as conn:
            await conn.execute(_journaling(key, answer))

    async def keep(
        self,
        key: str,
        answer: dict[str, Any],
        charge: Charge,
        cache: tuple[str, timedelta] | None = None,
    ) -> None:
        """What an answer from the model leaves behind, in one transaction: its ledger line,
        the step's journal entry and, given `cache` (key, TTL), the cached answer."""
        async with self._engine.begin() as conn:
            await conn.execute(recording(charge))
            await conn.execute(_journaling(key, answer))
            if cache is not None:
                await conn.execute(_caching(cache[0], answer, cache[1]))

    async def cached(self, key: str) -> dict[str, Any] | None:
        async with self._reads.connect() as conn:
            answer = (
                await conn.execute(
                    select(model_cache.c.answer).where(
                        model_cache.c.key == key, model_cache.c.expires_at > func.now()
                    )
                )
            ).scalar_one_or_none()
        return None if answer is None else dict(answer)

    async def cache(self, key: str, answer: dict[str, Any], ttl: timedelta) -> None:
        """Store (or refresh) the answer for `ttl`."""
        async with self._engine.begin() as conn:
            await conn.execute(_caching(key, answer, ttl))

    async def prune_cache(self, batch: int = 10_000) -> int:
        """Remove up to `batch` expired cache rows; returns how many went."""
        expired = select(model_cache.c.key).where(model_cache.c.expires_at < func.now())
        return await self._delete(delete(model_cache), model_cache.c.key, expired, batch)

    async def prune_journal(self, keep: timedelta, batch: int = 10_000) -> int:
        """Remove up to `batch` journal rows older than `keep`; returns how many went."""
        old = select(model_journal.c.key).where(model_journal.c.created_at < func.now() - keep)
        return await self._delete(delete(model_journal), model_journal.c.key, old, batch)

    async def _delete(self, statement: Any, key: Any, chosen: Any, batch: int) -> int:
        async with self._engine.begin() as conn:
            gone = await conn.execute(statement.where(key.in_(chosen.limit(batch))))
        return int(gone.rowcount)


def _journaling(key: str, answer: dict[str, Any]) -> Insert:
    return (
        insert(model_journal)
        .values(key=key, answer=storable(answer))
        .on_conflict_do_nothing(index_elements=["key"])
    )


def _caching(key: str, answer: dict[str, Any], ttl: timedelta) -> Insert:
    expires = func.now() + ttl
    return (
        insert(model_cache)
        .values(key=key, answer=storable(answer), expires_at=expires)
        .on_conflict_do_update(
            index_elements=["key"], set_={"answer": storable(answer), "expires_at": expires}
        )
    )
