"""The one shape of every error the API answers, and the request id it carries."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# Set by RequestContext for the request being served; quoted in every error body.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# Seconds a client should wait before retrying a 503 (Temporal or the database away).
RETRY_AFTER_S = 2


def error_body(code: str, message: str, detail: list[Any] | None = None) -> dict[str, Any]:
    """`{code, message, request_id}`, plus `detail` (field errors) for a 422."""
    body: dict[str, Any] = {"code": code, "message": message, "request_id": REQUEST_ID.get()}
    if detail is not None:
        body["detail"] = detail
    return body
