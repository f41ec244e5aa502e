"""The API's Prometheus series. Labels are job types, routes, statuses: never an owner, a job
id or any text a caller sent, so a series' count stays bounded."""

from __future__ import annotations

import time
from datetime import timedelta

import structlog
from prometheus_client import Counter, Gauge, Histogram
from temporalio.client import Client
from temporalio.service import RPCError

from core.jobs import JOB_TYPES
from core.temporal import JOB_TYPE

log = structlog.get_logger(__name__)

JOBS_STARTED = Counter("aijobs_jobs_started", "Jobs this API process started.", ["type"])
JOBS = Gauge(
    "aijobs_jobs",
    "Jobs Temporal holds in each status (closed ones within its retention), from its "
    "visibility store; the same on every API replica.",
    ["type", "status"],
)
HTTP_DURATION = Histogram(
    "aijobs_http_request_duration_seconds",
    "Time to the response's first byte (an event stream: to its headers).",
    ["method", "route", "status"],
)
SSE_CLIENTS = Gauge("aijobs_sse_clients", "Event streams open on this API process.")

# Counting by status is one visibility query per job type: not on every scrape.
JOB_COUNTS_EVERY_S = 15.0
_COUNT_TIMEOUT = timedelta(seconds=2)


class JobCounts:
    """Refreshes `aijobs_jobs` from Temporal at most every JOB_COUNTS_EVERY_S. When Temporal
    does not answer, the last counts stay and the scrape still succeeds."""

    def __init__(self) -> None:
        self._refreshed = float("-inf")

    async def refresh(self, client: Client) -> None:
        now = time.monotonic()
        if now - self._refreshed < JOB_COUNTS_EVERY_S:
            return
        self._refreshed = now
        try:
            for job_type in JOB_TYPES:
                counted = await client.count_workflows(
                    f"{JOB_TYPE.name} = '{job_type}' GROUP BY ExecutionStatus",
                    rpc_timeout=_COUNT_TIMEOUT,
                )
                for group in counted.groups:
                    status = str(group.group_values[0]).lower()  # "Completed"
                    JOBS.labels(type=job_type, status=status).set(group.count)
        except RPCError as err:
            log.warning("metrics.job_counts_unavailable", reason=err.message)
