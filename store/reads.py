"""Reads outside a transaction, for the stores' hot paths."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool for reads: no BEGIN and ROLLBACK around each (two round trips). Under
    READ COMMITTED every statement takes its own snapshot anyway, so a read sees the same."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")
