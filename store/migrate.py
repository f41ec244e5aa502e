"""Applying the Alembic migrations: `python -m store.migrate` brings AIJOBS_DATABASE_URL to head."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.attributes["url"] = url
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"{MIGRATIONS} has no revisions")
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def require_extension(conn: Connection, name: str) -> None:
    """DatabaseNotReady, in one line naming it, when the server cannot create extension
    `name` (a PostgreSQL without pgvector, say); a migration calls this before creating it."""
    from core.errors import DatabaseNotReady

    available = conn.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = :name"), {"name": name}
    ).scalar()
    if available is None:
        raise DatabaseNotReady(
            f"this PostgreSQL has no {name!r} extension, which collections need: install "
            f"pgvector on the server (https://github.com/pgvector/pgvector), or use a "
            "PostgreSQL that ships it (the embedded one `make run` starts does)"
        )


def upgrade(url: str) -> None:
    """Apply every migration not yet applied; DatabaseNotReady, in one line, if the database
    cannot be reached. Blocking; from async code it runs in a thread of its own, because the
    migrations environment runs an event loop of its own."""
    from store.database import unreachable  # store.database imports this module

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            command.upgrade(alembic_config(url), "head")
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(command.upgrade, alembic_config(url), "head").result()
    except (OSError, TimeoutError, DBAPIError) as err:
        raise unreachable(url, err) from None


def main() -> int:
    from core.config import get_settings
    from core.errors import DatabaseNotReady

    url = get_settings().database_url
    if url is None:
        print("aijobs: AIJOBS_DATABASE_URL is not set; nothing to migrate", file=sys.stderr)
        return 2
    try:
        upgrade(url.get_secret_value())
    except DatabaseNotReady as err:
        print(f"aijobs: {err.message}", file=sys.stderr)
        return 2
    print(f"aijobs: application database at migration {head_revision()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
