"""Turns model-server failures into Temporal errors that know whether a retry can help."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import openai
from temporalio.exceptions import ApplicationError

# Retry-After is the server's word, but a hostile or buggy value must not park a job for a day.
MAX_RETRY_AFTER = timedelta(minutes=2)

# Status codes where the same request can succeed later.
RETRYABLE_STATUS = {408, 409, 429}

# Status codes where it cannot, with the error type a person reads in the job's `error.type`.
PERMANENT_STATUS_TYPES = {
    400: "InvalidRequest",
    401: "AuthenticationFailed",
    403: "PermissionDenied",
    404: "ModelNotFound",
    422: "UnprocessableRequest",
}
RETRYABLE_STATUS_TYPES = {408: "RequestTimeout", 409: "Conflict", 429: "RateLimited"}


def retry_after(headers: object) -> timedelta | None:
    """Read `retry-after-ms` or `retry-after` (seconds or an HTTP date), clamped to a sane range."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    delay: timedelta | None = None
    if (ms := get("retry-after-ms")) is not None:
        try:
            delay = timedelta(milliseconds=float(ms))
        except ValueError:
            delay = None
    if delay is None and (raw := get("retry-after")) is not None:
        try:
            delay = timedelta(seconds=float(raw))
        except ValueError:
            try:
                delay = parsedate_to_datetime(raw) - datetime.now(UTC)
            except (TypeError, ValueError):
                delay = None
    if delay is None:
        return None
    return min(max(delay, timedelta(0)), MAX_RETRY_AFTER)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def provider_pause(headers: object) -> float | None:
    """Seconds the provider's `x-ratelimit-*` headers say no more will be accepted: when its
    remaining requests or tokens are 0, until the matching reset (`1s`, `6m0s`, `20ms`)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    pauses = []
    for kind in ("requests", "tokens"):
        if (get(f"x-ratelimit-remaining-{kind}") or "").strip() == "0":
            reset = get(f"x-ratelimit-reset-{kind}") or ""
            parts = _DURATION_PART.findall(reset)
            seconds = sum(float(n) * _UNIT_S[unit] for n, unit in parts) if parts else 1.0
            pauses.append(min(seconds, MAX_RETRY_AFTER.total_seconds()))
    return max(pauses) if pauses else None


def to_application_error(err: openai.OpenAIError) -> ApplicationError:
    """Classify an `openai` exception: transient ones retry, permanent ones stop the job."""
    if isinstance(err, openai.APITimeoutError):
        return ApplicationError("model server timed out", type="Timeout")
    if isinstance(err, openai.APIConnectionError):
        return ApplicationError(f"could not reach the model server: {err}", type="ConnectionFailed")
    if isinstance(err, openai.APIResponseValidationError):
        return ApplicationError("model server sent a malformed response", type="MalformedResponse")
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        said = err.body.get("message") if isinstance(err.body, dict) else None
        detail = f"model server answered {status}: {said or err.message}"
        if status == 400 and err.code == "content_policy_violation":
            return ApplicationError(detail, type="ContentPolicyViolation", non_retryable=True)
        if status in PERMANENT_STATUS_TYPES:
            return ApplicationError(detail, type=PERMANENT_STATUS_TYPES[status], non_retryable=True)
        if status in RETRYABLE_STATUS or status >= 500:
            return ApplicationError(
                detail,
                type=RETRYABLE_STATUS_TYPES.get(status, "ServerError"),
                next_retry_delay=retry_after(err.response.headers),
            )
        return ApplicationError(detail, type="ClientError", non_retryable=True)
    if isinstance(err, openai.ContentFilterFinishReasonError):
        return ApplicationError(
            "the model's content filter refused", type="ContentFiltered", non_retryable=True
        )
    # A body that is not JSON surfaces as a decode error wrapped in OpenAIError on some versions.
    return ApplicationError(f"model call failed: {err}", type="ModelError")


def is_malformed_body(err: Exception) -> bool:
    """A 200 whose body is not JSON: the server glitched, so the call is worth retrying."""
    return isinstance(err, json.JSONDecodeError | UnicodeDecodeError)
