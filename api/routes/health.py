"""Unauthenticated probes: the process is up (`/healthz`), Temporal answers (`/readyz`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.temporal_connection import TemporalConnection
from core.errors import TemporalUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, str] | JSONResponse:
    connection: TemporalConnection = request.app.state.temporal
    timeout = timedelta(seconds=request.app.state.settings.rpc_timeout_s)
    try:
        client = await connection.client()
        if await client.service_client.check_health(timeout=timeout):
            return {"status": "ready"}
    except (TemporalUnavailable, RuntimeError, OSError) as err:
        return JSONResponse({"status": "unavailable", "detail": str(err)}, status_code=503)
    return JSONResponse({"status": "unavailable", "detail": "Temporal is not serving"}, 503)
