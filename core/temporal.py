"""Connecting to Temporal with the (encrypting) pydantic converter; our search attributes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
)
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode

from core.config import Settings
from core.encryption import data_converter
from core.errors import SearchAttributesMissing
from core.telemetry import temporal_interceptors

log = structlog.get_logger(__name__)

# Search attribute names are part of the public contract: the API filters on them and operators
# query them in the Temporal UI. Never rename them casually.
JOB_OWNER = SearchAttributeKey.for_keyword("JobOwner")
JOB_TYPE = SearchAttributeKey.for_keyword("JobType")
# Set while a job waits for a person (the name of what it waits for), unset otherwise.
JOB_WAITING_FOR = SearchAttributeKey.for_keyword("JobWaitingFor")
# The owner's schedule id, on a schedule, its runs and the jobs they start.
JOB_SCHEDULE = SearchAttributeKey.for_keyword("JobSchedule")
# The reviewer groups a job grants its questions to (`options.reviewers`): the inbox's filter.
JOB_REVIEWERS = SearchAttributeKey.for_keyword_list("JobReviewers")
KEYWORD_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (
    JOB_OWNER,
    JOB_TYPE,
    JOB_WAITING_FOR,
    JOB_SCHEDULE,
)
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (*KEYWORD_ATTRIBUTES, JOB_REVIEWERS)


def reviewer_attribute(run_input: Mapping[str, Any]) -> list[SearchAttributePair[Any]]:
    """The job's reviewer groups as a search attribute, from its run input's options (none
    when it grants none)."""
    groups = (run_input.get("options") or {}).get("reviewers") or []
    return [SearchAttributePair(JOB_REVIEWERS, list(groups))] if groups else []


# Their types as Temporal's CLI and the server name them.
TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


# The SDK core's own log lines go through Python logging (so they are JSON like the rest),
# warnings and up; by default it writes coloured text to stderr.
_CORE_LOGS = LoggingConfig(
    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
    forwarding=LogForwardingConfig(
        logger=logging.getLogger("temporalio.core"),
        append_target_to_name=False,
        prepend_target_on_message=False,
        append_log_fields_to_message=False,
    ),
)
_runtime: Runtime | None = None


def process_runtime() -> Runtime:
    """The runtime of this process's clients: one, made on first use, with core logs
    forwarded."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(telemetry=TelemetryConfig(logging=_CORE_LOGS))
    return _runtime


def metrics_runtime(port: int, host: str = "0.0.0.0") -> Runtime:  # noqa: S104 (scraped)
    """A runtime with core logs forwarded whose SDK metrics (and the worker's model metrics,
    recorded through the same meter) are served for Prometheus at http://host:port/metrics."""
    metrics = PrometheusConfig(
        bind_address=f"{host}:{port}", counters_total_suffix=True, durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(logging=_CORE_LOGS, metrics=metrics))


async def connect(
    settings: Settings, runtime: Runtime | None = None, wait_s: float = 0.0
) -> Client:
    """Connect to the configured server; TLS and an API key reach Temporal Cloud. A server
    that does not answer is waited for up to `wait_s` (a worker restarted while the server
    restarts too)."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                api_key=api_key,
                tls=settings.temporal_tls or api_key is not None,
                data_converter=data_converter(settings),
                # Workers built on this client inherit them: the trace reaches every activity.
                interceptors=temporal_interceptors(),
                runtime=runtime or process_runtime(),
            )
        except RuntimeError as err:  # the SDK's "Failed client connect"
            if time.monotonic() + 1 > deadline:
                raise
            log.warning(
                "temporal.waiting_to_start", address=settings.temporal_address, reason=str(err)
            )
            # Pacing start-up retries: not synchronisation.
            await asyncio.sleep(1)


# Task-queue fairness (one owner's backlog must not delay another's calls) is off by default
# on the dev server; a real cluster or Temporal Cloud turns it on in its own configuration.
DEV_SERVER_FAIRNESS_FLAGS = ("--dynamic-config-value", "matching.enableFairness=true")


def dev_server_search_attribute_flags() -> list[str]:
    """`--search-attribute` flags that register our attributes on `temporal server start-dev`."""
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={TYPE_NAMES[key.indexed_value_type]}"]
    return flags


def dev_server_flags() -> list[str]:
    """Every flag `temporal server start-dev` needs for aijobs: our attributes, fairness."""
    return [*dev_server_search_attribute_flags(), *DEV_SERVER_FAIRNESS_FLAGS]


async def ensure_search_attributes(client: Client) -> None:
    """Register missing search attributes, or raise SearchAttributesMissing naming them.

    A self-hosted server takes the registration; Temporal Cloud refuses it (attributes are
    managed in its console), and a worker that started anyway would wedge every job that sets
    one. The time-skipping test server can add attributes but not list them.
    """
    wanted = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in SEARCH_ATTRIBUTES
    }
    types = {key.name: TYPE_NAMES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = None
    missing = (
        dict(wanted)
        if existing is None
        else {k: v for k, v in wanted.items() if k not in existing.custom_attributes}
    )
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    except RPCError as err:
        if existing is None:
            return
        names = ", ".join(f"{name} ({types[name]})" for name in sorted(missing))
        raise SearchAttributesMissing(
            f"namespace {client.namespace!r} lacks the search attributes {names} and refused to "
            f"add them ({err.message}); add them (Temporal Cloud: in its console), then start "
            "the worker again"
        ) from None
    log.info("temporal.search_attributes_added", names=sorted(missing))


async def ended_among(
    client: Client,
    job_ids: Sequence[str],
    missing_since: datetime,
    admitted: Mapping[str, datetime],
    rpc_timeout: timedelta,
) -> Sequence[str]:
    """Which of these jobs run no more, as Temporal knows them now: closed, or unknown to it
    although admitted before `missing_since` (a start that never happened)."""
    limit = asyncio.Semaphore(10)

    async def closed(job_id: str) -> bool:
        async with limit:
            try:
                desc = await client.get_workflow_handle(job_id).describe(rpc_timeout=rpc_timeout)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return admitted[job_id] < missing_since
                raise
        return desc.status != WorkflowExecutionStatus.RUNNING

    found = await asyncio.gather(*(closed(job_id) for job_id in job_ids))
    return [job_id for job_id, gone in zip(job_ids, found, strict=True) if gone]
