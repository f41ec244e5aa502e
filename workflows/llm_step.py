"""The workflow side of a model call: one place for its timeouts and retry policy."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.contracts.llm import COMPLETE_CHAT, ChatRequest, ChatResult

# A streamed answer may run for 30 minutes. A dead worker is noticed through missed heartbeats
# and a silent model server by the client's read timeout, so this bound only has to be wider.
LLM_START_TO_CLOSE = timedelta(minutes=40)
LLM_SCHEDULE_TO_CLOSE = timedelta(hours=3)
LLM_HEARTBEAT = timedelta(seconds=10)
LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


async def ask_model(request: ChatRequest, summary: str) -> ChatResult:
    """Run `complete_chat` as an activity; `summary` labels the step in the Temporal UI timeline."""
    result: ChatResult = await workflow.execute_activity(
        COMPLETE_CHAT,
        request,
        result_type=ChatResult,
        start_to_close_timeout=LLM_START_TO_CLOSE,
        schedule_to_close_timeout=LLM_SCHEDULE_TO_CLOSE,
        heartbeat_timeout=LLM_HEARTBEAT,
        retry_policy=LLM_RETRY,
        summary=summary,
    )
    return result
