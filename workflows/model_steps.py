"""The job SDK's model calls: text, schema-valid data and batches of independent calls, each
checked against the job's budget, with its cache option and fallback chain, counted in its
usage, published as a `step_completed` event and labelled in the Temporal UI."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.model_calls import job_owner, over_budget, run_llm_activity, with_fallbacks
from workflows.tools import ToolRunner

with workflow.unsafe.imports_passed_through():
    from core.contracts.job_type import JobProgress
    from core.contracts.llm import (
        BUDGET_EXCEEDED,
        COMPLETE_CHAT,
        COMPLETE_CHATS,
        BatchedChat,
        ChatBatch,
        ChatBatchResult,
        ChatMessage,
        ChatRequest,
        ChatResult,
        TokenUsage,
    )
    from core.contracts.options import JobOptions
    from core.contracts.structured import (
        COMPLETE_STRUCTURED,
        INVALID_MODEL_OUTPUT,
        StructuredRequest,
        StructuredResult,
    )
    from core.events import StepCompletedEvent

Done = TypeVar("Done")
Answer = TypeVar("Answer", ChatResult, StructuredResult)

# Calls per batch activity: its input and result stay far below Temporal's payload limit.
BATCH_CALLS = 32
# A batch holds one worker slot and at most this many calls in flight: a slot stands for a
# few calls (AIJOBS_MAX_CONCURRENT_ACTIVITIES bounds calls within this factor), and owners'
# fair shares of slots stay fair shares of calls. A batch's `parallel` runs as lanes.
CALLS_PER_SLOT = 4
# A repair quotes this much of the answer that did not fit.
QUOTED_ANSWER_CHARS = 20_000


class _Answer(Protocol):
    @property
    def model(self) -> str: ...
    @property
    def usage(self) -> TokenUsage: ...
    @property
    def source(self) -> str: ...


class ModelSteps(ToolRunner):
    """The part of the job SDK that asks models; the job's base (workflows/job.py) gives it
    the options, progress and models it counts in."""

    options: JobOptions
    progress: JobProgress
    models: set[str]

    def check_budget(self) -> None:
        """Fail the job, before a call, once its spend reached max_cost_usd."""
        if reason := over_budget(self.options, self.progress.usage):
            raise ApplicationError(reason, type=BUDGET_EXCEEDED, non_retryable=True)

    def count(self, answer: _Answer, step: str | None = None) -> None:
        """Add an answer to the job's usage and models; with `step`, publish it as done."""
        self.models.add(answer.model)
        self.progress.usage = self.progress.usage + answer.usage
        self.took(answer.source)
        if step is not None:
            self._step_completed(step, answer.usage, answer.source)

    def _step_completed(self, step: str, usage: TokenUsage, source: str) -> None:
        self.events.publish(
            StepCompletedEvent(
                step=step,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                source=source,
            )
        )

    async def ask(self, request: ChatRequest, step: str, label: str) -> ChatResult:
        """One model call for text, its tokens streamed as `step`; `label` names it in the
        Temporal UI."""
        self.check_budget()
        request = self._cached(request).model_copy(update={"step": step})
        result = await self._call_model(COMPLETE_CHAT, request, ChatResult, label)
        self.count(result, step)
        return result

    async def ask_data(
        self, request: StructuredRequest, step: str, label: str, max_repairs: int = 2
    ) -> StructuredResult:
        """The first answer that fits the request's JSON Schema, after at most `max_repairs`
        repairs in which the model is shown what did not fit. Usage covers every attempt;
        when none fit, `errors` holds the last attempt's."""
        request = request.model_copy(update={"step": step, "cache": self._cache(request.cache)})
        usage = TokenUsage()
        for repair in range(max_repairs + 1):
            self.check_budget()
            summary = label + (f" · repair {repair}" if repair else "")
            result = await self._call_model(COMPLETE_STRUCTURED, request, StructuredResult, summary)
            self.count(result)
            usage = usage + result.usage
            if not result.errors:
                break
            # Each repair is a step of its own in the job's records.
            repaired = {
                "messages": _repaired(request, result),
                "step": f"{step}-repair-{repair + 1}",
            }
            request = request.model_copy(update=repaired)
        self._step_completed(step, usage, result.source)
        return result.model_copy(update={"usage": usage})

    async def _call_model(
        self,
        activity: str,
        request: ChatRequest | StructuredRequest,
        result_type: type[Answer],
        summary: str,
    ) -> Answer:
        """One model activity along the job's fallback chain."""

        async def call(model: str | None, fail_fast: bool, retry: RetryPolicy, note: str) -> Any:
            asked = request.model_copy(
                update={
                    "owner": job_owner(),
                    "model": model,
                    "fail_fast": fail_fast,
                    "recording": self.reuse(),
                }
            )
            return await run_llm_activity(
                activity, asked, result_type, retry, _labelled(summary, model, note)
            )

        result: Answer = await self._fall_back(request.model, request.step, call)
        return result

    async def ask_batch(
        self,
        calls: Sequence[tuple[str, ChatRequest]],
        label: str,
        parallel: int = 8,
        *,
        advance: bool = False,
    ) -> list[ChatResult]:
        """Independent calls `(step, request)` on one model, as few activities as possible:
        `parallel` in flight at once. A batch of one is a single streamed call. `advance`
        moves the progress's `completed` by one per answer, a batch at a time."""
        if len(calls) == 1:
            step, request = calls[0]
            result = await self.ask(request, step, label)
            if advance:
                self.show(completed=self.progress.completed + 1)
            return [result]
        batched = [BatchedChat(part=s, request=self._cached(r)) for s, r in calls]
        return await self._batches(batched, label, parallel, advance)

    async def ask_data_batch(
        self,
        calls: Sequence[tuple[str, StructuredRequest]],
        label: str,
        parallel: int = 8,
        max_repairs: int = 2,
        *,
        advance: bool = False,
    ) -> list[StructuredResult]:
        """`ask_data` for independent calls, batched like `ask_batch`; the answers that did
        not fit are repaired together, as a batch again."""
        pending = {
            step: BatchedChat(
                part=step,
                request=ChatRequest(
                    **r.model_dump(include={"messages", "model", "max_output_tokens"}),
                    temperature=r.temperature,
                    cache=self._cache(r.cache),
                ),
                json_schema=r.json_schema,
            )
            for step, r in calls
        }
        usage: dict[str, TokenUsage] = {step: TokenUsage() for step in pending}
        answers: dict[str, ChatResult] = {}
        for repair in range(max_repairs + 1):
            note = f" · repair {repair}" if repair else ""
            batch = list(pending.values())
            done = await self._batches(batch, label + note, parallel, advance and not repair)
            for step, asked, answer in zip(list(pending), batch, done, strict=True):
                usage[step] = usage[step] + answer.usage
                answers[step] = answer
                if answer.errors and repair < max_repairs:
                    messages = _repaired(asked.request, answer)
                    update = {"request": asked.request.model_copy(update={"messages": messages})}
                    pending[step] = asked.model_copy(
                        update={"part": f"{step}-repair-{repair + 1}", **update}
                    )
                else:
                    del pending[step]
            if not pending:
                break
        return [
            StructuredResult(
                data=answers[step].data,
                errors=answers[step].errors,
                raw=answers[step].text,
                model=answers[step].model,
                usage=usage[step],
                source=answers[step].source,
            )
            for step, _ in calls
        ]

    async def _batches(
        self, calls: list[BatchedChat], label: str, parallel: int, advance: bool
    ) -> list[ChatResult]:
        """`parallel` calls at a time in lanes of CALLS_PER_SLOT, each lane running its share
        as batch activities of at most BATCH_CALLS, one after another. The activity writes
        each call's `step_completed` event as it lands."""
        in_flight = min(parallel, len(calls))
        lanes = -(-in_flight // CALLS_PER_SLOT)
        share, per_lane = -(-len(calls) // lanes), -(-in_flight // lanes)
        done = await all_or_nothing(
            [
                self._lane(
                    calls[first : first + share], first, len(calls), label, per_lane, advance
                )
                for first in range(0, len(calls), share)
            ]
        )
        return [result for lane in done for result in lane]

    async def _lane(
        self,
        calls: list[BatchedChat],
        offset: int,
        count: int,
        label: str,
        parallel: int,
        advance: bool,
    ) -> list[ChatResult]:
        results: list[ChatResult] = []
        for first in range(0, len(calls), BATCH_CALLS):
            batch = calls[first : first + BATCH_CALLS]
            # Checked as each batch starts; the batch itself stops starting calls at the limit.
            self.check_budget()
            start = offset + first + 1
            answers = await self._one_batch(
                batch, parallel, f"{label} {start}-{start + len(batch) - 1}/{count}"
            )
            for answer in answers:
                self.count(answer)
            if advance:
                self.progress.completed += len(answers)
            self.show()
            results.extend(answers)
        return results

    async def _one_batch(
        self, calls: list[BatchedChat], parallel: int, summary: str
    ) -> list[ChatResult]:
        """One `complete_chats` activity along the fallback chain; the parts answered before
        a fallback are neither asked nor paid for again."""
        tries = 0
        spent = self.progress.usage.cost_usd or 0.0

        async def call(model: str | None, fail_fast: bool, retry: RetryPolicy, note: str) -> Any:
            nonlocal tries
            tries += 1
            update = {
                "owner": job_owner(),
                "model": model,
                "fail_fast": fail_fast,
                "recording": self.reuse(),
            }
            batch = ChatBatch(
                calls=[
                    c.model_copy(update={"request": c.request.model_copy(update=update)})
                    for c in calls
                ],
                parallel=parallel,
                max_cost_usd=self.options.max_cost_usd,
                spent_usd=spent,
                may_be_answered=tries > 1,
            )
            done = await run_llm_activity(
                COMPLETE_CHATS, batch, ChatBatchResult, retry, _labelled(summary, model, note)
            )
            return done.results

        results: list[ChatResult] = await self._fall_back(calls[0].request.model, None, call)
        return results

    async def _fall_back(self, model: str | None, step: str | None, call: Any) -> Any:
        return await with_fallbacks(model, self.options.fallback_models, step, self.events, call)

    def _cache(self, given: Any) -> Any:
        return given if given is not None else self.options.cache

    def _cached(self, request: ChatRequest) -> ChatRequest:
        return request.model_copy(update={"cache": self._cache(request.cache)})


def _labelled(summary: str, model: str | None, fallback_note: str) -> str:
    """A model activity's label in the Temporal UI: the step, and the model asked."""
    return summary + (fallback_note or (f" · {model}" if model else ""))


def _repaired(request: ChatRequest | StructuredRequest, answer: Any) -> list[ChatMessage]:
    """The conversation once more, with the answer that did not fit and what was wrong."""
    listed = "\n".join(f"- {e}" for e in answer.errors)
    quoted = answer.raw if isinstance(answer, StructuredResult) else answer.text
    return [
        *request.messages,
        ChatMessage(role="assistant", content=quoted[:QUOTED_ANSWER_CHARS] or "(empty)"),
        ChatMessage(
            role="user",
            content=f"Your answer does not fit the required JSON Schema:\n{listed}\n"
            "Reply again with the corrected JSON only, fitting the schema exactly.",
        ),
    ]


def require_valid(result: StructuredResult, max_repairs: int) -> StructuredResult:
    """The result, or fail the job with InvalidModelOutput quoting why the last answer did not
    fit: for a step the job cannot go on without."""
    if result.errors:
        raise ApplicationError(
            f"the model's output did not fit the schema after {max_repairs} repairs: "
            + "; ".join(result.errors),
            type=INVALID_MODEL_OUTPUT,
            non_retryable=True,
        )
    return result


async def all_or_nothing(calls: Sequence[Awaitable[Done]]) -> list[Done]:
    """Await every call; on the first failure cancel the rest so no model is paid for nothing."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
