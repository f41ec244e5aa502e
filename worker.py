"""The worker process: runs every job workflow and activity until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.agent_llm import AgentLLMActivities
from activities.conversations import ConversationStore
from activities.llm import LLMActivities
from activities.notify import NotifyActivities
from activities.outbox import Outbox
from activities.publish import PublishActivities
from activities.sqlite import DB_NAME
from activities.tool_runner import ToolActivities
from activities.tools.documents import DocumentStore
from activities.tools.tickets import TicketStore
from core.config import Settings, get_settings
from core.jobs import JOB_TYPES
from core.logging import configure_logging
from core.temporal import connect, ensure_search_attributes

log = structlog.get_logger("worker")

GRACEFUL_SHUTDOWN = timedelta(seconds=15)


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
    )
    log.info("llm.configured", base_url=settings.openai_base_url, default_model=settings.model)
    return client, settings.model


def build_activities(settings: Settings) -> list[Callable[..., Any]]:
    """Every activity, bound to clients created once for this process."""
    client, default_model = build_openai_client(settings)
    # One HTTP client for webhooks and fetch_url, bounded so a stuck server cannot hang a task.
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0))
    db = Path(settings.data_dir) / DB_NAME
    batch = timedelta(milliseconds=settings.stream_batch_ms)
    llm = LLMActivities(client, default_model, batch)
    agent = AgentLLMActivities(client, default_model, ConversationStore(db), batch)
    tools = ToolActivities(
        http,
        DocumentStore(db),
        TicketStore(db),
        settings.fetch_allowed_hosts,
        settings.fetch_max_bytes,
    )
    publish = PublishActivities(settings.publish_webhook, Outbox(db), http)
    notify = NotifyActivities(settings.notify_webhook, http)
    return [
        llm.complete_chat,
        agent.complete_agent_step,
        tools.run_tool,
        tools.store_documents,
        publish.publish_draft,
        notify.notify_person,
    ]


def build_worker(
    settings: Settings, client: Client, activities: list[Callable[..., Any]] | None = None
) -> Worker:
    """The worker with every registered job type; shared by `main` and the tests."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[job.workflow for job in JOB_TYPES.values()],
        activities=build_activities(settings) if activities is None else activities,
        max_concurrent_activities=settings.max_concurrent_activities,
        # On SIGTERM, calls in flight get this long before Temporal retries them elsewhere.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    client = await connect(settings)
    await ensure_search_attributes(client)
    worker = build_worker(settings, client)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    log.info(
        "worker.started",
        temporal=settings.temporal_address,
        namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
    )
    async with worker:
        await stop.wait()
        log.info("worker.stopping", reason="signal")
    log.info("worker.stopped")


# The guard matters: the workflow sandbox re-imports modules, and must not start a second loop.
if __name__ == "__main__":
    asyncio.run(main())
