"""The workflow side of a model call: one place for its timeouts and retry policy."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.contracts.llm import COMPLETE_CHAT, ChatRequest, ChatResult, TokenUsage
    from core.contracts.options import JobOptions
    from core.temporal import JOB_OWNER

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
        request.model_copy(update={"owner": job_owner()}),
        result_type=ChatResult,
        start_to_close_timeout=LLM_START_TO_CLOSE,
        schedule_to_close_timeout=LLM_SCHEDULE_TO_CLOSE,
        heartbeat_timeout=LLM_HEARTBEAT,
        retry_policy=LLM_RETRY,
        summary=summary,
    )
    return result


def job_owner() -> str | None:
    """Whose job this is (the JobOwner search attribute the API set), for the cost ledger."""
    return workflow.info().typed_search_attributes.get(JOB_OWNER)


BUDGET_EXCEEDED = "BudgetExceeded"


def over_budget(options: JobOptions, usage: TokenUsage) -> str | None:
    """Why no further model call may start (the job's max_cost_usd is reached), or None."""
    limit = options.max_cost_usd
    if limit is None or usage.cost_usd is None or usage.cost_usd < limit:
        return None
    return f"max_cost_usd (${limit:g}) reached: ${usage.cost_usd:.6f} spent"


def check_budget(options: JobOptions, usage: TokenUsage) -> None:
    """Fail the job, before a call, once its spend reached max_cost_usd."""
    if reason := over_budget(options, usage):
        raise ApplicationError(reason, type=BUDGET_EXCEEDED, non_retryable=True)
