"""The application database at start-up: migrations match the code, and a database that is not
ready is refused with a message that says what to do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from core.errors import DatabaseNotReady
from store import Stores, migrate
from store.database import async_url, check_ready, create_engine, shown
from store.migrate import head_revision, require_extension, upgrade
from store.tables import metadata
from tests.support.processes import ROOT

# Starts subprocesses (interpreters, workers, servers): not a unit test.
pytestmark = pytest.mark.integration


def _differences(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_migrations_create_exactly_the_tables_the_code_uses(stores: Stores) -> None:
    """Autogenerate finds nothing to change between the migrated schema and store/tables.py."""
    async with stores.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_a_migrated_database_is_ready(stores: Stores) -> None:
    """The shared test database passes the start-up check."""
    await check_ready(stores.engine)


@pytest.fixture
async def empty_database(stores: Stores, database_url: str) -> str:
    """A new, unmigrated database on the same server."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    async with stores.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


async def test_an_unmigrated_database_is_refused_until_migrated(empty_database: str) -> None:
    """Start-up names the migration it needs and how to apply it; after upgrade it is ready."""
    engine = create_engine(empty_database, pool_size=1)
    try:
        with pytest.raises(
            DatabaseNotReady, match=rf"at migration none, but this code needs {head_revision()}"
        ):
            await check_ready(engine)
        await asyncio.to_thread(upgrade, empty_database)
        await check_ready(engine)
    finally:
        await engine.dispose()


async def test_an_unreachable_database_is_refused_at_once(database_url: str) -> None:
    """A socket directory with no server behind it: one message, naming where it looked."""
    missing = make_url(database_url).update_query_dict({"host": "/nonexistent/aijobs"})
    engine = create_engine(missing.render_as_string(hide_password=False), pool_size=1)
    try:
        with pytest.raises(DatabaseNotReady, match="cannot reach the application database"):
            await check_ready(engine)
    finally:
        await engine.dispose()


def test_urls_are_postgres_only_and_passwords_never_shown() -> None:
    """A standard postgresql:// URL is driven by asyncpg; others are refused; errors and logs
    print the URL without its password."""
    url = "postgresql://aijobs:s3cret@db.internal:5432/aijobs"
    assert async_url(url).drivername == "postgresql+asyncpg"
    assert "s3cret" not in shown(url)
    with pytest.raises(DatabaseNotReady, match="must be a postgresql:// URL"):
        async_url("mysql://root@localhost/db")
    with pytest.raises(DatabaseNotReady, match="not a database URL"):
        async_url("not a url")


@pytest.mark.parametrize(
    ("command", "code"),
    [(["-m", "store.migrate"], 2), (["scripts/dev_stack.py"], 1)],
    ids=["store.migrate", "make-run"],
)
def test_migrating_an_unreachable_database_is_one_line(command: list[str], code: int) -> None:
    """`python -m store.migrate` and `make run` against a database that does not answer say
    so in one line, with the URL's password hidden, instead of a driver traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIJOBS_", "TEMPORAL_"))}
    env["AIJOBS_DATABASE_URL"] = "postgresql://aijobs:s3cret@/aijobs?host=/nonexistent/aijobs"
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aijobs: cannot reach the application database at ")
    assert "s3cret" not in lines[0]


async def test_a_missing_extension_is_named(stores: Stores) -> None:
    """A server that cannot create an extension the migrations need stops them with one
    line naming it (asked here for one no server has; the embedded server has `vector`)."""

    def check(conn: Connection) -> None:
        require_extension(conn, "vector")
        with pytest.raises(DatabaseNotReady, match="no 'no_such_vector' extension"):
            require_extension(conn, "no_such_vector")

    async with stores.engine.connect() as conn:
        await conn.run_sync(check)


async def test_migrating_a_server_without_pgvector_stops_with_that_line(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migration that creates `vector` checks first: on a server without it (simulated by
    asking for a name none has) the upgrade stops with the one line, not a driver error."""
    real = migrate.require_extension
    monkeypatch.setattr(
        migrate, "require_extension", lambda conn, name: real(conn, f"no_such_{name}")
    )
    with pytest.raises(DatabaseNotReady, match="no 'no_such_vector' extension"):
        await asyncio.to_thread(upgrade, empty_database)
