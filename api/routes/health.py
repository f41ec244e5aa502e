"""Unauthenticated probes: the process is up (`/healthz`), Temporal and the database answer
(`/readyz`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from temporalio.service import RPCError

from api.responses import errors
from api.temporal_connection import TemporalConnection
from core.errors import TemporalUnavailable
from store import Stores
from store.database import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses=errors(503),
)
async def readyz(request: Request) -> dict[str, str]:
    """Ready when the database and Temporal both answer; a 503 (with Retry-After) says which
    does not, in the same shape as every other error."""
    connection: TemporalConnection = request.app.state.temporal
    timeout = timedelta(seconds=request.app.state.settings.rpc_timeout_s)
    stores: Stores = request.app.state.stores
    await ping(stores.engine)
    client = await connection.client()
    try:
        serving = await client.service_client.check_health(timeout=timeout)
    except RPCError as err:
        raise TemporalUnavailable(err.message) from None
    if not serving:
        raise TemporalUnavailable("Temporal is not serving")
    return {"status": "ready"}
