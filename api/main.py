"""The FastAPI app: `create_app()` wires settings, Temporal, middleware and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from api.error_handlers import install_error_handlers
from api.middleware import BodySizeLimit, RequestContext
from api.routes import events, health, job_types, jobs
from api.temporal_connection import TemporalConnection
from core.config import Settings, get_settings
from core.logging import configure_logging

log = structlog.get_logger("api")


def create_app(
    settings: Settings | None = None, temporal: TemporalConnection | None = None
) -> FastAPI:
    """Build the app; tests pass their own settings and an already connected Temporal client.

    Nothing reads the environment or connects until the lifespan starts.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or get_settings()
        if settings is None:
            configure_logging(resolved.log_level)
        if not resolved.api_keys:
            log.warning("api.no_keys", detail="AIJOBS_API_KEYS is empty: every /v1 call gets 401")
        app.state.settings = resolved
        app.state.temporal = temporal or TemporalConnection(resolved)
        log.info("api.started", temporal=resolved.temporal_address, owners=len(resolved.api_keys))
        yield

    app = FastAPI(
        title="aijobs",
        summary="Durable AI jobs on Temporal.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(events.router)
    app.include_router(job_types.router)
    # Added last runs first: the request id is bound before the size check answers.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestContext)
    return app


app = create_app()
