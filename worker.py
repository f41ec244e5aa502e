"""The worker process: runs every job workflow and activity until SIGINT or SIGTERM.

Workers keep nothing on local disk: N of them on N hosts, given the same TEMPORAL_ADDRESS and
AIJOBS_DATABASE_URL, share the work, and any of them can run any step of any job.
"""

from __future__ import annotations

import os
import signal
import sys

if __name__ == "__main__":
    # Ctrl-C before the worker serves (its imports alone take a second) ends it quietly, not
    # with a KeyboardInterrupt traceback: nothing has started, so nothing is handed back.
    # `_serve` installs the real handling.
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))

import asyncio
import compileall
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
import structlog
import uvloop
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.agent_llm import AgentLLMActivities
from activities.billing import Billing
from activities.ingest import IngestActivities
from activities.job_events import JobEventActivities
from activities.llm import LLMActivities
from activities.model_caller import ModelCaller
from activities.model_gate import ModelGate
from activities.notify import NotifyActivities
from activities.publish import PublishActivities
from activities.retrieval import RetrievalActivities
from activities.scheduled_runs import ScheduleActivities
from activities.step_log import StepLog
from activities.token_stream import TokenStreams
from activities.tool_runner import ToolActivities
from activities.tools.fetch_url import PublicAddresses, tool_http_client
from activities.webhooks import WebhookActivities
from core import redaction
from core.config import Settings, get_settings
from core.embedding_client import EmbeddingClient
from core.errors import DatabaseNotReady, KeysMismatch, SearchAttributesMissing, SettingsInvalid
from core.jobs import JOB_TYPES
from core.logging import configure_logging
from core.pricing import ModelPrices
from core.retention import ensure_retention_schedule
from core.telemetry import TelemetryInvalid, configure_tracing, shutdown_tracing
from core.temporal import connect, ensure_search_attributes, metrics_runtime
from core.tls import trusted_roots
from store import Stores
from store.database import START_WAIT_S, check_ready, create_engine
from store.encryption_keys import check_keys
from workflows.event_retention import EventRetentionWorkflow
from workflows.registry import RegistryMismatch, matched
from workflows.scheduled_run import ScheduledRunWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

log = structlog.get_logger("worker")

# Imported afresh by the sandbox for every workflow run.
WORKFLOW_SOURCES = Path(__file__).resolve().parent / "workflows"

# Ctrl-C is a person at a terminal: hand calls in flight back to Temporal after this long.
INTERACTIVE_STOP = timedelta(seconds=2)


def build_openai_client(settings: Settings) -> tuple[openai.AsyncOpenAI | None, str]:
    """One OpenAI client per process, with its own retries off: Temporal owns retrying.

    Returns the client (None: only the offline model) and the default model name.
    """
    if settings.uses_offline_model:
        log.warning(
            "llm.offline_mode",
            reason="neither OPENAI_API_KEY nor OPENAI_BASE_URL is set",
            model="offline",
        )
        return None, "offline"
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    client = openai.AsyncOpenAI(
        api_key=api_key,
        base_url=settings.openai_base_url,
        max_retries=0,
        timeout=settings.llm_timeout_s,
        http_client=openai.DefaultAsyncHttpxClient(verify=trusted_roots()),
    )
    base_url = redaction.redact(settings.openai_base_url) if settings.openai_base_url else None
    log.info("llm.configured", base_url=base_url, default_model=settings.model)
    if settings.openai_api_key and urlsplit(settings.openai_base_url or "").password:
        # httpx turns a URL's user:password into Basic auth, which replaces the bearer key.
        log.warning(
            "llm.credentials",
            sent="the user:password in OPENAI_BASE_URL, as HTTP Basic auth",
            not_sent="OPENAI_API_KEY",
        )
    return client, settings.model


def build_activities(
    settings: Settings, stores: Stores, temporal: Client
) -> list[Callable[..., Any]]:
    """Every activity, bound to clients and stores created once for this process."""
    client, default_model = build_openai_client(settings)
    # One HTTP client for webhooks, bounded so a stuck server cannot hang a task. Tools get
    # their own (no cookies, proxies or .netrc): what a model fetches shares nothing with it.
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0), verify=trusted_roots())
    tokens = TokenStreams(stores.events, timedelta(milliseconds=settings.stream_batch_ms))
    billing = Billing(stores.ledger, ModelPrices(settings.model_prices))
    gate = ModelGate(
        stores.model_calls,
        stores.events,
        settings.model_limits,
        timedelta(seconds=settings.model_limit_window_s),
    )
    caller = (
        None
        if client is None
        else ModelCaller(
            client,
            gate,
            billing,
            stores.answers,
            cache_ttl=timedelta(seconds=settings.cache_ttl_s),
            cache_scope=settings.cache_scope,
        )
    )
    steps = StepLog(stores.steps)
    llm = LLMActivities(caller, default_model, tokens, stores.events, steps)
    agent = AgentLLMActivities(caller, default_model, stores.conversations, tokens, steps)
    events = JobEventActivities(
        stores.events,
        retention=timedelta(days=settings.event_retention_days),
        token_retention=timedelta(days=settings.token_retention_days),
        rate_limits=stores.rate_limits,
        model_calls=stores.model_calls,
        answers=stores.answers,
        journal_retention=timedelta(days=settings.journal_retention_days),
        webhooks=stores.webhooks,
        claims=stores.claims,
        embeddings=stores.embeddings,
        steps=stores.steps,
        requests=stores.requests,
    )
    publish = PublishActivities(settings.publish_webhook, stores.outbox, http, steps)
    notify = NotifyActivities(settings.notify_webhook, http, settings.public_url)
    # Pinned to checked addresses like fetch_url, so it shares that client's rules.
    webhooks = WebhookActivities(
        tool_http_client(timeout=15.0),
        stores.webhooks,
        stores.events,
        settings.webhook_allow_private,
        timedelta(seconds=settings.webhook_secret_grace_s),
    )
    # One embedding client (and connection pool) for ingesting and for retrieval.
    embedder = EmbeddingClient(
        settings, httpx.AsyncClient(timeout=settings.llm_timeout_s, verify=trusted_roots())
    )
    ingest = IngestActivities(
        embedder,
        stores,
        gate,
        billing,
        tool_http_client(),
        settings.fetch_allowed_hosts,
        PublicAddresses(allow_private=settings.fetch_allow_private),
        settings.fetch_max_bytes,
    )
    retrieval = RetrievalActivities(embedder, stores, billing, default_model, steps)
    tools = ToolActivities(
        tool_http_client(),
        stores.documents,
        stores.tickets,
        settings.fetch_allowed_hosts,
        settings.fetch_max_bytes,
        PublicAddresses(allow_private=settings.fetch_allow_private),
        retrieval.search,
        steps,
    )
    # A schedule's run checks its owner's quotas as the API does, Temporal's view included.
    schedules = ScheduleActivities(temporal, settings, stores)
    return [
        llm.complete_chat,
        llm.complete_chats,
        llm.complete_structured,
        agent.complete_agent_step,
        tools.run_tool,
        tools.store_documents,
        publish.publish_draft,
        notify.notify_person,
        webhooks.deliver_webhook,
        schedules.admit_scheduled_job,
        ingest.ingest_document,
        retrieval.retrieve_passages,
        events.append_job_events,
        events.trim_job_events,
    ]


def build_worker(
    settings: Settings,
    client: Client,
    stores: Stores,
    activities: list[Callable[..., Any]] | None = None,
) -> Worker:
    """The worker with every registered job type; shared by `main` and the tests."""
    redaction.install(settings)
    _cache_workflow_bytecode()
    return Worker(
        client,
        task_queue=settings.task_queue,
        deployment_config=deployment_config(settings),
        workflows=all_workflows(),
        activities=(
            build_activities(settings, stores, client) if activities is None else activities
        ),
        max_concurrent_activities=settings.max_concurrent_activities,
        # On SIGTERM, calls in flight get this long before Temporal retries them elsewhere.
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_s),
    )


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """With AIJOBS_WORKER_BUILD_ID, a version of the worker deployment whose runs are pinned:
    an incompatible change to a job's steps ships as a new build, and runs already started
    finish on the build they began on (docs/write-a-job.md)."""
    if settings.worker_build_id is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=settings.worker_deployment, build_id=settings.worker_build_id
        ),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


def _cache_workflow_bytecode() -> None:
    """The sandbox imports the workflow modules afresh for every workflow it runs. With
    PYTHONDONTWRITEBYTECODE set (common in images, and the image's own) each import was a
    compile: a fifth of the worker's CPU under load. The flag only stops the interpreter
    writing bytecode; compiled here once, every later import reads it. Where the code is
    read-only, nothing is written and imports compile as before."""
    compileall.compile_dir(WORKFLOW_SOURCES, quiet=2)


def all_workflows() -> list[type[Any]]:
    """Every job workflow (one per declared job type, found in workflows/), retention, webhook
    delivery and schedules' runs.
    RegistryMismatch when a declared job type has no workflow or a job workflow no type."""
    return [
        *matched(JOB_TYPES),
        EventRetentionWorkflow,
        WebhookDeliveryWorkflow,
        ScheduledRunWorkflow,
    ]


async def _serve(worker: Worker, settings: Settings) -> None:
    """Run until a signal. SIGTERM (a deploy) drains calls in flight for up to the grace;
    SIGINT (Ctrl-C) or a second signal gives them back to Temporal at once."""
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[signal.Signals] = asyncio.Queue()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    running = asyncio.create_task(worker.run())
    waiting = asyncio.create_task(signals.get())
    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        waiting.cancel()
        running.result()  # a fatal worker error surfaces here
        return
    first = waiting.result()
    quick = first == signal.SIGINT
    log.info(
        "worker.stopping",
        signal=first.name,
        grace_s=INTERACTIVE_STOP.total_seconds() if quick else settings.shutdown_grace_s,
    )
    shutdown = asyncio.create_task(worker.shutdown())
    again = asyncio.create_task(signals.get())
    timeout = INTERACTIVE_STOP.total_seconds() if quick else None
    done, _ = await asyncio.wait({shutdown, again}, timeout=timeout, return_when="FIRST_COMPLETED")
    if shutdown not in done:
        log.warning(
            "worker.calls_abandoned",
            detail="calls in flight are retried by Temporal once their heartbeat lapses",
        )
        sys.stderr.flush()
        os._exit(0)
    again.cancel()
    await running


async def main() -> int:
    try:
        settings = get_settings()
    except SettingsInvalid as err:
        configure_logging("INFO")
        log.error("worker.cannot_start", reason=err.message)
        return 2
    redaction.install(settings)
    configure_logging(settings.log_level)
    # The SDK's stop line quotes the configured grace ("will wait 0:02:00") even when Ctrl-C
    # waits 2 s: `worker.stopping` says what a stop does, so that line is left out.
    logging.getLogger("temporalio.worker._worker").setLevel(logging.WARNING)
    try:
        configure_tracing("worker")
    except TelemetryInvalid as err:
        log.error("worker.cannot_start", reason=str(err))
        return 2
    try:
        all_workflows()
    except RegistryMismatch as err:
        log.error("worker.cannot_start", reason=str(err))
        return 2
    if settings.database_url is None:
        log.error(
            "worker.cannot_start",
            reason="AIJOBS_DATABASE_URL is not set: point it at PostgreSQL (make run starts an "
            "embedded one and sets it)",
        )
        return 2
    runtime = None
    if settings.worker_metrics_port:
        try:
            runtime = metrics_runtime(settings.worker_metrics_port)
        except ValueError as err:  # the port is taken
            log.error(
                "worker.cannot_start",
                reason=f"AIJOBS_WORKER_METRICS_PORT={settings.worker_metrics_port}: {err}",
            )
            return 2
    engine = create_engine(settings.database_url.get_secret_value(), settings.database_pool_size)
    try:
        await check_ready(engine, START_WAIT_S)
        await check_keys(engine, settings)
        client = await connect(settings, runtime, START_WAIT_S)
        await ensure_search_attributes(client)
        await ensure_retention_schedule(client, settings.task_queue)
    except (DatabaseNotReady, KeysMismatch, SearchAttributesMissing) as err:
        log.error("worker.cannot_start", reason=err.message)
        await engine.dispose()
        return 2
    worker = build_worker(settings, client, Stores.on(engine))
    log.info(
        "worker.started",
        temporal=settings.temporal_address,
        namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
        metrics_port=settings.worker_metrics_port or None,
        deployment=settings.worker_deployment if settings.worker_build_id else None,
        build_id=settings.worker_build_id,
    )
    try:
        await _serve(worker, settings)
    except RuntimeError as err:
        # The SDK's fatal errors (Temporal lost while the worker validates its namespace, a
        # poller that gives up): one line, like every other, and a restart by the supervisor.
        log.error("worker.failed", reason=str(err))
        return 1
    finally:
        await engine.dispose()
        shutdown_tracing()
    # `worker.stopping` was the stop's one line at info.
    log.debug("worker.stopped")
    return 0


# The guard matters: the workflow sandbox re-imports modules, and must not start a second loop.
if __name__ == "__main__":
    # uvloop: the same asyncio, with sockets (Temporal, PostgreSQL, the model) far cheaper.
    sys.exit(uvloop.run(main()))
