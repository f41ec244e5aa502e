"""The one place domain and Temporal errors become HTTP answers: a status and a plain message."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AijobsError, InvalidInput, LimitReached, NotAuthenticated

log = structlog.get_logger(__name__)

_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AijobsError):  # registered for AijobsError only
        raise exc
    if isinstance(exc, InvalidInput):
        # Same shape as FastAPI's own 422 so clients parse one format.
        detail = [{**e, "loc": [*exc.loc, *_loc(e)]} for e in exc.errors] or [
            {"type": exc.code, "loc": list(exc.loc), "msg": exc.message}
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    headers = {"WWW-Authenticate": exc.challenge} if isinstance(exc, NotAuthenticated) else None
    if isinstance(exc, LimitReached):
        headers = exc.headers
    return JSONResponse(
        {"detail": exc.message, "code": exc.code}, status_code=exc.status, headers=headers
    )


def _loc(error: dict[str, object]) -> list[object]:
    loc = error.get("loc")
    return list(loc) if isinstance(loc, list | tuple) else []


async def _temporal_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RPCError):  # registered for RPCError only
        raise exc
    if exc.status in _UNAVAILABLE:
        log.warning("temporal.unavailable", status=exc.status.name, reason=exc.message)
        return JSONResponse(
            {
                "detail": "Temporal is unreachable; try again shortly",
                "code": "temporal_unavailable",
            },
            status_code=503,
        )
    log.error("temporal.rpc_failed", status=exc.status.name, reason=exc.message)
    return JSONResponse(
        jsonable_encoder({"detail": "Temporal refused the request", "code": "temporal_error"}),
        status_code=502,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AijobsError, _domain_error)
    app.add_exception_handler(RPCError, _temporal_error)
