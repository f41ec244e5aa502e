"""Alembic's entry point: runs the migrations over an async connection to the database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from store.database import create_engine
from store.tables import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url is None:
        from core.config import get_settings

        secret = get_settings().database_url
        if secret is None:
            raise SystemExit("AIJOBS_DATABASE_URL is not set")
        url = secret.get_secret_value()
    return str(url)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate() -> None:
    engine = create_engine(_url(), pool_size=None)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("aijobs migrations run online only: set AIJOBS_DATABASE_URL")
asyncio.run(_migrate())
