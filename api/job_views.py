"""Reads Temporal's view of a workflow into the API's view of a job: status, error, links."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus
from temporalio.common import TypedSearchAttributes

from api.schemas import JobError, JobLinks, JobStatus
from core.config import Settings
from core.failures import describe_failure
from core.redaction import redact
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
    """Only types and messages leave here; stack traces stay in Temporal for operators."""
    error_type, message = describe_failure(failure)
    return JobError(type=error_type, message=redact(message))


def quote(value: str) -> str:
    """Quote a value for a visibility query."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
