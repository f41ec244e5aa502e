"""The error answers each route documents, in one place: every one is an ErrorBody in JSON
(an event stream's errors too), and 429 and 503 say when to come back."""

from __future__ import annotations

from typing import Any

from api.schemas import ErrorBody

Responses = dict[int | str, dict[str, Any]]

_DESCRIPTIONS = {
    400: "The body is not JSON.",
    401: "No valid key.",
    402: "The owner's monthly budget is spent.",
    403: "A reviewer's key, which answers questions only.",
    404: "No such job or schedule for this caller (another owner's answers the same).",
    409: "It clashes with the job's state, the Idempotency-Key was used with another body, "
    "or the schedule id is taken.",
    413: "The body is over the size limit.",
    415: "The body was not sent as JSON (`Content-Type: application/json`).",
    422: "Invalid input: `detail` names each field.",
    429: "Too many requests, or too many jobs running: retry after `Retry-After`.",
    500: "An internal error: quote `request_id`.",
    503: "Temporal or the database is unreachable: retry after `Retry-After`.",
    504: "No worker took the answer in time; read the job before sending it again.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}

_SCHEMA = "#/components/schemas/ErrorBody"
# What every authenticated /v1 route can answer; routes add their own.
V1 = (401, 403, 422, 429, 500, 503)
# Routes that read a JSON body.
BODY = (400, 413, 415, 422)


def errors(*statuses: int) -> Responses:
    documented: Responses = {}
    for status in statuses:
        documented[status] = {
            "model": ErrorBody,
            "description": _DESCRIPTIONS[status],
            # Named explicitly, so a route whose success is an event stream documents its
            # errors as the JSON they are.
            "content": {"application/json": {"schema": {"$ref": _SCHEMA}}},
        }
        if status in (429, 503):
            documented[status]["headers"] = _RETRY_AFTER
    return documented
