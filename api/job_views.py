"""Reads Temporal's view of a workflow into the API's view of a job: status, error, links."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    FailureError,
    TerminatedError,
    TimeoutError,
)

from api.schemas import JobError, JobLinks, JobStatus
from core.config import Settings
from core.temporal import JOB_WAITING_FOR

STATUS_NAMES: dict[WorkflowExecutionStatus, JobStatus] = {
    WorkflowExecutionStatus.RUNNING: "running",
    # A run that continued as new lives on in its successor, which is what the job reports.
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
    WorkflowExecutionStatus.TERMINATED: "terminated",
}

# The visibility query that selects each job status.
VISIBILITY_FILTERS: dict[JobStatus, str] = {
    "running": f"ExecutionStatus = 'Running' AND {JOB_WAITING_FOR.name} IS NULL",
    "waiting_for_input": f"ExecutionStatus = 'Running' AND {JOB_WAITING_FOR.name} IS NOT NULL",
    "completed": "ExecutionStatus = 'Completed'",
    "failed": "ExecutionStatus = 'Failed'",
    "cancelled": "ExecutionStatus = 'Canceled'",
    "timed_out": "ExecutionStatus = 'TimedOut'",
    "terminated": "ExecutionStatus = 'Terminated'",
}


def job_status(
    status: WorkflowExecutionStatus | None, attributes: TypedSearchAttributes
) -> JobStatus:
    """Temporal's status, refined: a running job that waits for a person says so."""
    name = STATUS_NAMES.get(status or WorkflowExecutionStatus.RUNNING, "running")
    waiting_for = attributes.get(JOB_WAITING_FOR)
    if name == "running" and waiting_for:
        return "waiting_for_input"
    return name


def links(settings: Settings, job_id: str, run_id: str | None) -> JobLinks:
    base = (
        f"{settings.ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows/{job_id}"
    )
    return JobLinks(self=f"/v1/jobs/{job_id}", ui=f"{base}/{run_id}/history" if run_id else base)


def error_from_failure(failure: BaseException) -> JobError:
    """The first application error in the chain (the workflow's or the activity's own words),
    else a description of how the run ended.

    Only types and messages leave here; stack traces stay in Temporal for operators.
    """
    current: BaseException | None = failure
    while current is not None:
        if isinstance(current, ApplicationError):
            return JobError(type=current.type or "ApplicationError", message=current.message)
        current = current.__cause__
    cause = failure.__cause__ or failure
    if isinstance(cause, CancelledError):
        return JobError(type="Cancelled", message=cause.message or "the job was cancelled")
    if isinstance(cause, TerminatedError):
        return JobError(type="Terminated", message=cause.message or "the job was terminated")
    if isinstance(cause, TimeoutError):
        return JobError(type="Timeout", message=cause.message or "the job timed out")
    if isinstance(cause, FailureError):
        return JobError(type=type(cause).__name__, message=cause.message)
    return JobError(type=type(cause).__name__, message=str(cause))
