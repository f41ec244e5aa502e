"""Connecting to the application database, and refusing to start against one that is not ready."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.errors import DatabaseNotReady, DatabaseUnavailable
from store.migrate import current_revision, head_revision

log = structlog.get_logger(__name__)

_POSTGRES_SCHEMES = ("postgres", "postgresql")
# Failures of the connection itself, as opposed to a statement the database refused.
_OUTAGES = (OSError, TimeoutError, OperationalError, InterfaceError)
CONNECT_TIMEOUT_S = 10
# How long a worker or API starting up waits for a database that does not answer yet.
START_WAIT_S = 60.0


def async_url(url: str) -> URL:
    """A standard `postgresql://` URL, driven by asyncpg. Other schemes are refused."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseNotReady("AIJOBS_DATABASE_URL is not a database URL") from None
    if parsed.get_backend_name() not in _POSTGRES_SCHEMES:
        raise DatabaseNotReady(
            f"AIJOBS_DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}://"
        )
    return parsed.set(drivername="postgresql+asyncpg")


def unreachable(url: str | URL, err: BaseException) -> DatabaseNotReady:
    """The one-line refusal for a database that did not answer, naming it without password."""
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0] or type(err).__name__
    return DatabaseNotReady(f"cannot reach the application database at {shown(url)}: {reason}")


def shown(url: str | URL) -> str:
    """The URL as logs and errors may show it: never with its password."""
    return make_url(url).render_as_string(hide_password=True)


def create_engine(url: str, pool_size: int | None = 10) -> AsyncEngine:
    """One engine (one pool) per process; nothing connects until first use.

    `pool_size=None` opens a connection per use, for one-off work such as migrations.
    No pre-ping: it costs a round trip per use (a tenth of the API's CPU under load). A
    connection the server dropped (restart, failover) fails one statement, SQLAlchemy then
    replaces the whole pool, and that one request answers 503 with Retry-After (an
    activity is retried by Temporal).
    """
    pooling: dict[str, Any] = (
        {"poolclass": NullPool}
        if pool_size is None
        else {"pool_size": pool_size, "max_overflow": pool_size}
    )
    return create_async_engine(
        async_url(url), connect_args={"timeout": CONNECT_TIMEOUT_S}, **pooling
    )


async def check_ready(engine: AsyncEngine, wait_s: float = 0.0) -> None:
    """Raise DatabaseNotReady, with what to do about it, unless the database answers and its
    schema is at the migration this code was written for. A database that does not answer is
    waited for up to `wait_s` (a process restarted while PostgreSQL restarts too)."""
    deadline = time.monotonic() + wait_s
    pause_s = 0.25
    while True:
        try:
            async with engine.connect() as conn:
                current = await conn.run_sync(current_revision)
            break
        except (OSError, TimeoutError, DBAPIError) as err:
            if not is_outage(err) or time.monotonic() + pause_s > deadline:
                raise unreachable(engine.url, err) from None
            if pause_s == 0.25:
                log.warning("database.waiting_to_start", database=shown(engine.url))
            # Pacing start-up retries: not synchronisation.
            await asyncio.sleep(pause_s)
            pause_s = min(pause_s * 2, 2.0)
    head = head_revision()
    if current != head:
        raise DatabaseNotReady(
            f"the application database at {shown(engine.url)} is at migration "
            f"{current or 'none'}, but this code needs {head}: run `python -m store.migrate` "
            "(make run does it for you)"
        )


# How long a request waits to learn whether the database answers at all.
PING_TIMEOUT_S = 2.0


async def ping(engine: AsyncEngine) -> None:
    """Raise DatabaseUnavailable (a 503) unless the database answers within PING_TIMEOUT_S."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_S), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, TimeoutError, DBAPIError) as err:
        raise DatabaseUnavailable() from err


def is_outage(err: BaseException) -> bool:
    """A lost database (refused, socket gone, connection dropped, timed out), as opposed to a
    statement the database refused, which is a bug and stays one."""
    if isinstance(err, _OUTAGES):
        return True
    if not isinstance(err, DBAPIError):
        return False
    # SQLSTATE class 08 (connection exception), a server shutting down, crashed or starting
    # up (57P01-57P03), or out of connections (53300).
    state = str(getattr(err.orig, "sqlstate", "") or "")
    return (
        bool(err.connection_invalidated)
        or state.startswith("08")
        or state in {"57P01", "57P02", "57P03", "53300"}
    )


@asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    """Turn a lost database into DatabaseUnavailable, a 503 for the API."""
    try:
        yield
    except Exception as err:
        if not is_outage(err):
            raise
        log.warning("database.unavailable", error=type(err).__name__)
        raise DatabaseUnavailable() from err
