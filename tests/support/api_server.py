"""The real API on a real socket, in the test's event loop, served by uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from temporalio.client import Client

from api.main import create_app
from api.temporal_connection import TemporalConnection
from core.config import Settings
from tests.support.polling import eventually


@asynccontextmanager
async def serve_api(settings: Settings, client: Client | None) -> AsyncIterator[str]:
    """Yield the base URL of a running API; `client=None` makes it connect on its own."""
    connection = TemporalConnection(settings)
    if client is not None:
        connection.set_client(client)
    app = create_app(settings, connection)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # surface a start-up failure instead of waiting out the deadline
        return server.started

    await eventually(started, timeout_s=10, what="uvicorn started")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
