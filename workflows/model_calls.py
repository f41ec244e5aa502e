"""The workflow side of a model call: its timeouts, its retry policy and its fallback chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from workflows.events import EventLog

with workflow.unsafe.imports_passed_through():
    from core.contracts.llm import (
        PERMANENT_MODEL_ERRORS,
        TokenUsage,
    )
    from core.contracts.options import JobOptions
    from core.events import FallbackEvent
    from core.failures import describe_failure
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


# With another model to fall back on, a model gets this many attempts at a step.
FALLBACK_AFTER = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)

Result = TypeVar("Result")


async def with_fallbacks(
    model: str | None,
    fallbacks: Sequence[str],
    step: str | None,
    events: EventLog | None,
    call: Callable[[str | None, bool, RetryPolicy, str], Awaitable[Result]],
) -> Result:
    """Run `call(model, fail_fast, retry_policy, note)` on each model in turn until one answers.

    A model that cannot answer (not found, a request it refuses, its circuit open) gives way at
    once; one that keeps failing, after FALLBACK_AFTER's attempts. The last model retries as
    every call does. Each move is in history and in the job's `fallback` events.
    """
    chain = [model, *fallbacks]
    for index, current in enumerate(chain):
        last = index == len(chain) - 1
        note = "" if index == 0 else f" · fallback to {current}"
        try:
            return await call(current, not last, LLM_RETRY if last else FALLBACK_AFTER, note)
        except ActivityError as err:
            if last or not _gives_way(err):
                raise
            error_type, message = describe_failure(err)
            following = chain[index + 1] or "the default model"
            workflow.logger.warning(
                "llm.fallback", extra={"from": current, "to": following, "reason": error_type}
            )
            if events is not None:
                events.publish(
                    FallbackEvent(
                        step=step,
                        from_model=current or "the default model",
                        to_model=following,
                        reason=f"{error_type}: {message}",
                    )
                )
    raise AssertionError("unreachable: the last model's failure is raised")


def _gives_way(err: ActivityError) -> bool:
    """Whether another model may succeed where this one failed."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        # Non-retryable failures are about the request itself (content policy, a refusal),
        # except the ones that say this model cannot answer.
        return cause.type in PERMANENT_MODEL_ERRORS or not cause.non_retryable
    return isinstance(cause, TimeoutError)


async def run_llm_activity(
    activity: str,
    request: BaseModel,
    result_type: type[Result],
    retry: RetryPolicy,
    summary: str,
) -> Result:
    """One model activity with the timeouts every model call has; `retry` decides how long
    this model keeps trying before a fallback."""
    result: Result = await workflow.execute_activity(
        activity,
        request,
        result_type=result_type,
        start_to_close_timeout=LLM_START_TO_CLOSE,
        schedule_to_close_timeout=LLM_SCHEDULE_TO_CLOSE,
        heartbeat_timeout=LLM_HEARTBEAT,
        retry_policy=retry,
        summary=summary,
    )
    return result


def job_owner() -> str | None:
    """Whose job this is (the JobOwner search attribute the API set), for the cost ledger."""
    return workflow.info().typed_search_attributes.get(JOB_OWNER)


def over_budget(options: JobOptions, usage: TokenUsage) -> str | None:
    """Why no further model call may start (the job's max_cost_usd is reached), or None."""
    limit = options.max_cost_usd
    if limit is None or usage.cost_usd is None or usage.cost_usd < limit:
        return None
    return f"max_cost_usd (${limit:g}) reached: ${usage.cost_usd:.6f} spent"
