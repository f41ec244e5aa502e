"""`/metrics` for Prometheus: no key (like the health probes), nothing owner-specific."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.metrics import JobCounts
from api.temporal_connection import TemporalConnection
from core.errors import AijobsError

router = APIRouter(tags=["health"])
_counts = JobCounts()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(request: Request) -> Response:
    """Jobs started and by status, HTTP latency, open event streams (see the README)."""
    connection: TemporalConnection = request.app.state.temporal
    try:
        await _counts.refresh(await connection.client())
    except AijobsError:
        pass  # Temporal unreachable: the last counts are served, and /readyz says why
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
