"""The FastAPI app: `create_app()` wires settings, Temporal, middleware and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from api.error_handlers import install_error_handlers
from api.event_hub import EventHub
from api.middleware import BodySizeLimit, CodecCors, RequestContext
from api.openapi import install_openapi
from api.rate_limit import enforce_rate_limit
from api.routes import (
    cassettes,
    codec,
    collections,
    events,
    health,
    inbox,
    job_types,
    jobs,
    metrics,
    reruns,
    review_page,
    schedules,
    usage,
    webhooks,
)
from api.temporal_connection import TemporalConnection
from api.text_guard import refuse_unstorable_text
from core import redaction
from core.config import Settings, get_settings
from core.embedding_client import EmbeddingClient
from core.errors import DatabaseNotReady, KeysMismatch, SettingsInvalid
from core.logging import configure_logging
from core.telemetry import TelemetryInvalid, configure_tracing, shutdown_tracing, tracing_on
from core.tls import trusted_roots
from store import Stores
from store.database import START_WAIT_S, check_ready, create_engine
from store.encryption_keys import check_keys

log = structlog.get_logger("api")


def create_app(
    settings: Settings | None = None, temporal: TemporalConnection | None = None
) -> FastAPI:
    """Build the app; tests pass their own settings and an already connected Temporal client.

    Nothing reads the environment or connects until the lifespan starts.
    """

    telemetry_invalid = None
    if settings is None:
        # Imported by uvicorn before it logs that it started: from here on, its lines too are
        # JSON (the lifespan sets the configured level).
        configure_logging("INFO")
        try:
            configure_tracing("api")
        except TelemetryInvalid as err:
            telemetry_invalid = err

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            resolved = settings or get_settings()
        except SettingsInvalid as err:
            configure_logging("INFO")
            log.error("api.cannot_start", reason=err.message)
            raise
        if telemetry_invalid is not None:
            configure_logging("INFO")
            log.error("api.cannot_start", reason=str(telemetry_invalid))
            raise telemetry_invalid
        redaction.install(resolved)
        if settings is None:
            configure_logging(resolved.log_level)
        if not resolved.api_keys:
            log.warning("api.no_keys", detail="AIJOBS_API_KEYS is empty: every /v1 call gets 401")
        # Refusing here, with one clear line, beats failing on the first request.
        if resolved.database_url is None:
            not_set = DatabaseNotReady(
                "AIJOBS_DATABASE_URL is not set: point it at PostgreSQL (make run starts an "
                "embedded one and sets it)"
            )
            log.error("api.cannot_start", reason=not_set.message)
            raise not_set
        engine = create_engine(
            resolved.database_url.get_secret_value(), resolved.database_pool_size
        )
        try:
            await check_ready(engine, START_WAIT_S)
            await check_keys(engine, resolved)
        except (DatabaseNotReady, KeysMismatch) as err:
            log.error("api.cannot_start", reason=err.message)
            await engine.dispose()
            raise
        app.state.settings = resolved
        app.state.temporal = temporal or TemporalConnection(resolved)
        stores = Stores.on(engine)
        app.state.stores = stores
        app.state.rate_limiter = SlidingWindowCounterRateLimiter(stores.rate_limits)
        # One LISTEN connection for every SSE client of this process.
        hub = EventHub(engine, stores.events)
        hub.start()
        app.state.event_hub = hub
        # A search embeds its query here: one client for the process, bounded in time.
        embedding_http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), verify=trusted_roots())
        app.state.embedder = EmbeddingClient(resolved, embedding_http)
        log.info("api.started", temporal=resolved.temporal_address, owners=len(resolved.api_keys))
        try:
            yield
        finally:
            await hub.close()
            await embedding_http.aclose()
            await engine.dispose()
            shutdown_tracing()

    # Swagger UI and ReDoc from assets shipped in a wheel: /docs works with no internet.
    app = FastAPIOffline(
        title="aijobs",
        summary="Durable AI jobs on Temporal.",
        version="0.1.0",
        lifespan=lifespan,
        # Swagger UI would send the schema to validator.swagger.io for its badge.
        swagger_ui_parameters={"validatorUrl": None},
    )
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    # Operators' codec keys, not owners' API keys, and no owner rate limit.
    app.include_router(codec.router)
    # Reviewers' page: its own sign-in and cookie session, not API keys.
    app.include_router(review_page.router)
    # Every /v1 route counts against its owner's rate limit and takes only storable text.
    limited = [Depends(enforce_rate_limit), Depends(refuse_unstorable_text)]
    for router in (
        jobs.router,
        events.router,
        job_types.router,
        usage.router,
        webhooks.router,
        schedules.router,
        inbox.router,
        collections.router,
        reruns.router,
        cassettes.router,
    ):
        app.include_router(router, dependencies=limited)
    # Added last runs first: the request id is bound before the size check answers.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(CodecCors)
    app.add_middleware(RequestContext)
    if tracing_on():
        # Outermost: the request's span is the parent of everything the request does.
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return app


app = create_app()
