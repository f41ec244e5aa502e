"""Unauthenticated probes: the process is up (`/healthz`), Temporal and the database answer
(`/readyz`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.temporal_connection import TemporalConnection
from core.errors import TemporalUnavailable
from store import Stores

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, str] | JSONResponse:
    connection: TemporalConnection = request.app.state.temporal
    timeout = timedelta(seconds=request.app.state.settings.rpc_timeout_s)
    stores: Stores = request.app.state.stores
    try:
        async with stores.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (DBAPIError, OSError, TimeoutError):
        return JSONResponse(
            {"status": "unavailable", "detail": "the application database is unreachable"}, 503
        )
    try:
        client = await connection.client()
        if await client.service_client.check_health(timeout=timeout):
            return {"status": "ready"}
    except (TemporalUnavailable, RuntimeError, OSError) as err:
        return JSONResponse({"status": "unavailable", "detail": str(err)}, status_code=503)
    return JSONResponse({"status": "unavailable", "detail": "Temporal is not serving"}, 503)
