"""The one mapping from what went wrong to an HTTP answer (docs/api.md: "Status codes").

- Temporal or the database unreachable or timing out: 503 with Retry-After, on every route.
- Refused for a reason the caller can fix: the 4xx that names it.
- Anything else: 500 with the request id and no detail (RequestContext answers those).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from temporalio.service import RPCError, RPCStatusCode

from api.error_body import RETRY_AFTER_S, error_body
from core.errors import AijobsError, InvalidInput, LimitReached, NotAuthenticated
from core.redaction import redact_any

log = structlog.get_logger(__name__)

_UNAVAILABLE = "Temporal is unreachable; try again shortly"
# Temporal's answers, by gRPC status. A timeout shows up as CANCELLED ("Timeout expired").
_TEMPORAL: dict[RPCStatusCode, tuple[int, str, str | None]] = {
    RPCStatusCode.UNAVAILABLE: (503, "temporal_unavailable", _UNAVAILABLE),
    RPCStatusCode.DEADLINE_EXCEEDED: (503, "temporal_unavailable", _UNAVAILABLE),
    RPCStatusCode.CANCELLED: (503, "temporal_unavailable", _UNAVAILABLE),
    RPCStatusCode.RESOURCE_EXHAUSTED: (
        503,
        "temporal_unavailable",
        "Temporal is over its limits for this namespace; try again shortly",
    ),
    # None: Temporal's own message names what to fix.
    RPCStatusCode.INVALID_ARGUMENT: (422, "invalid_input", None),
    RPCStatusCode.NOT_FOUND: (404, "not_found", None),
    RPCStatusCode.ALREADY_EXISTS: (409, "conflict", None),
    RPCStatusCode.FAILED_PRECONDITION: (409, "conflict", None),
}
_HTTP_CODES = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}


def _answer(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    # The last step before an error leaves: no configured secret in any message.
    body = redact_any(body)
    headers = {**getattr(request.state, "start_headers", {}), **(headers or {})}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return _EscapedJSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


class _EscapedJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: an error may quote where a lone surrogate
    was sent (a field name), which UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AijobsError):  # registered for AijobsError only
        raise exc
    if isinstance(exc, InvalidInput):
        # Same field-level shape as FastAPI's own 422, so clients parse one format.
        detail = [{**e, "loc": [*exc.loc, *_loc(e)]} for e in exc.errors] or [
            {"type": exc.code, "loc": list(exc.loc), "msg": exc.message}
        ]
        return _answer(request, 422, error_body(exc.code, exc.message, detail))
    headers = None
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": exc.challenge}
    elif isinstance(exc, LimitReached):
        headers = exc.headers
    return _answer(request, exc.status, error_body(exc.code, exc.message), headers)


def _loc(error: dict[str, object]) -> list[object]:
    loc = error.get("loc")
    return list(loc) if isinstance(loc, list | tuple) else []


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    if _body_not_json(request, exc):
        return _answer(
            request,
            415,
            error_body(
                "unsupported_media_type",
                "send the body as JSON, with the header Content-Type: application/json",
            ),
        )
    # The caller's own values are not echoed back: a 200 KB text would come back whole.
    errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if first else "invalid request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _answer(request, 422, error_body("invalid_input", message + more, errors))


def _body_not_json(request: Request, exc: RequestValidationError) -> bool:
    """A body FastAPI did not read as JSON because the request did not say it was JSON."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return False
    return any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        raise exc
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    code = _HTTP_CODES.get(exc.status_code, HTTPStatus(exc.status_code).phrase.lower())
    return _answer(
        request, exc.status_code, error_body(code.replace(" ", "_"), str(exc.detail)), headers
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method the schema documents at this path (Starlette names only the first
    matching route's, so `GET /v1/jobs` went missing from a 405 on that path)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RPCError):  # registered for RPCError only
        raise exc
    mapped = _TEMPORAL.get(exc.status)
    if mapped is None:
        # Our request or our credentials: nothing the caller can fix, so no detail.
        log.error("temporal.rpc_failed", status=exc.status.name, reason=exc.message)
        return _answer(request, 500, error_body("internal_error", "internal error"))
    status, code, message = mapped
    level = log.warning if status == 503 else log.info
    level("temporal.refused", status=exc.status.name, reason=exc.message, answered=status)
    return _answer(request, status, error_body(code, message or exc.message))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AijobsError, _domain_error)
    app.add_exception_handler(RPCError, _temporal_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
