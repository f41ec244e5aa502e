"""A reusable workflow step: output that fits a JSON Schema, repaired a bounded number of
times. Every attempt is its own activity, so history shows each answer that did not fit."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.events import EventLog
from workflows.llm_step import job_owner, run_llm_activity, with_fallbacks

with workflow.unsafe.imports_passed_through():
    from core.contracts.llm import ChatMessage
    from core.contracts.structured import (
        COMPLETE_STRUCTURED,
        INVALID_MODEL_OUTPUT,
        StructuredRequest,
        StructuredResult,
    )

# A repair quotes this much of the answer that did not fit.
QUOTED_ANSWER_CHARS = 20_000


async def ask_structured(
    request: StructuredRequest,
    summary: str,
    max_repairs: int,
    fallbacks: Sequence[str] = (),
    events: EventLog | None = None,
) -> StructuredResult:
    """The first answer that fits the schema, after at most `max_repairs` repairs in which the
    model is shown what did not fit. The returned usage covers every attempt; when none fit,
    `errors` holds the last attempt's."""
    result = await _one_attempt(request, summary, fallbacks, events)
    usage = result.usage
    messages = list(request.messages)
    for repair in range(1, max_repairs + 1):
        if not result.errors:
            break
        messages = [
            *messages,
            ChatMessage(role="assistant", content=result.raw[:QUOTED_ANSWER_CHARS] or "(empty)"),
            ChatMessage(role="user", content=_repair_prompt(result.errors)),
        ]
        attempt = request.model_copy(update={"messages": messages})
        result = await _one_attempt(attempt, f"{summary} · repair {repair}", fallbacks, events)
        usage = usage + result.usage
    return result.model_copy(update={"usage": usage})


def require_valid(result: StructuredResult, max_repairs: int) -> StructuredResult:
    """The result, or InvalidModelOutput quoting why the last answer did not fit."""
    if result.errors:
        raise ApplicationError(
            f"the model's output did not fit the schema after {max_repairs} repairs: "
            + "; ".join(result.errors),
            type=INVALID_MODEL_OUTPUT,
            non_retryable=True,
        )
    return result


async def _one_attempt(
    request: StructuredRequest,
    summary: str,
    fallbacks: Sequence[str],
    events: EventLog | None,
) -> StructuredResult:
    async def call(
        model: str | None, fail_fast: bool, retry: RetryPolicy, note: str
    ) -> StructuredResult:
        update = {"owner": job_owner(), "model": model, "fail_fast": fail_fast}
        return await run_llm_activity(
            COMPLETE_STRUCTURED,
            request.model_copy(update=update),
            StructuredResult,
            retry,
            summary + note,
        )

    return await with_fallbacks(request.model, fallbacks, request.step, events, call)


def _repair_prompt(errors: list[str]) -> str:
    listed = "\n".join(f"- {e}" for e in errors)
    return (
        "Your answer does not fit the required JSON Schema:\n"
        f"{listed}\n"
        "Reply again with the corrected JSON only, fitting the schema exactly."
    )
