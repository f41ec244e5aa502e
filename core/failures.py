"""What a person should read about a failure: a type and a message, never a stack trace."""

from __future__ import annotations

from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    FailureError,
    TerminatedError,
    TimeoutError,
)


def describe_failure(failure: BaseException) -> tuple[str, str]:
    """(type, message) of the first application error in the chain (the workflow's or the
    activity's own words), else of how the run ended."""
    current: BaseException | None = failure
    while current is not None:
        if isinstance(current, ApplicationError):
            return current.type or "ApplicationError", current.message
        current = current.__cause__
    cause = failure.__cause__ or failure
    if isinstance(cause, CancelledError):
        return "Cancelled", cause.message or "the job was cancelled"
    if isinstance(cause, TerminatedError):
        return "Terminated", cause.message or "the job was terminated"
    if isinstance(cause, TimeoutError):
        return "Timeout", cause.message or "the job timed out"
    if isinstance(cause, FailureError):
        return type(cause).__name__, cause.message
    return type(cause).__name__, str(cause)
