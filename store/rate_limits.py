"""Rate-limit counters in PostgreSQL, shared by every API replica, for the `limits` library's
sliding-window-counter strategy."""

from __future__ import annotations

import math

from limits.aio.storage import SlidingWindowCounterSupport, Storage
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.reads import autocommit
from store.tables import rate_limit_windows as windows

_NOW = text("extract(epoch FROM clock_timestamp())")


class PostgresLimitStorage(Storage, SlidingWindowCounterSupport):
    """Counts per (key, window); the database's clock decides the window, so replicas whose
    clocks differ still agree. Only the sliding window counter is supported."""

    STORAGE_SCHEME = ["aijobs+postgresql"]  # noqa: RUF012 (the base class declares it a list)

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine
        # Reads and the hit function: single statements, no BEGIN and COMMIT around them.
        self._autocommit = autocommit(engine)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (DBAPIError, OSError)

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        """One statement (`acquire_rate_window`, migration 0008): one key's hits are counted
        one at a time, whichever replica takes them."""
        call = func.acquire_rate_window(key, limit, expiry, amount)
        async with self._autocommit.connect() as conn:
            return bool((await conn.execute(select(call))).scalar_one())

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        async with self._autocommit.connect() as conn:
            return await self._window(conn, key, expiry, await _now(conn))

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        await self.clear(key)

    @staticmethod
    async def _window(
        conn: AsyncConnection, key: str, expiry: int, now: float
    ) -> tuple[int, float, int, float]:
        """(previous hits, seconds the previous window still weighs, current hits, seconds
        until the current window stops counting), as the strategy expects them."""
        index = math.floor(now / expiry)
        rows = dict(
            (
                await conn.execute(
                    select(windows.c.window_index, windows.c.hits).where(
                        windows.c.key == key,
                        windows.c.window_index.in_([index - 1, index]),
                    )
                )
            ).all()
        )
        left = (index + 1) * expiry - now
        previous = int(rows.get(index - 1, 0))
        return previous, left if previous else 0.0, int(rows.get(index, 0)), left + expiry

    async def prune(self) -> int:
        """Drop windows that no longer count."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(windows).where(windows.c.expires_at < func.now()))
        return int(result.rowcount)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("only the sliding window counter is kept in PostgreSQL")

    async def get(self, key: str) -> int:
        raise NotImplementedError("only the sliding window counter is kept in PostgreSQL")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("only the sliding window counter is kept in PostgreSQL")

    async def check(self) -> bool:
        async with self._autocommit.connect() as conn:
            await conn.execute(select(1))
        return True

    async def reset(self) -> int | None:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(windows))
        return int(result.rowcount)

    async def clear(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(windows).where(windows.c.key == key))


async def _now(conn: AsyncConnection) -> float:
    return float((await conn.execute(select(_NOW))).scalar_one())
