"""The job SDK: the base every job workflow extends, so a job's module holds its decisions only.

A job workflow is `class MyWorkflow(JobWorkflow[MyRun, MyProgress, MyResult])` with a
`@workflow.run` method that returns `await self.run_job(input)` and a `steps(input)` method.
The base owns what every job needs: the event log, the outcome (`completed`, `failed`,
`cancelled`), one progress object (the `progress` query, the `stage` events, the Temporal UI's
details, the progress the API reads from the database, usage and cost), model calls with the
job's budget, cache option and fallback chain, asking a person, and running tools.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import (
    Any,
    ClassVar,
    Generic,
    NoReturn,
    Protocol,
    TypeVar,
    cast,
    get_args,
    get_origin,
)

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

from workflows.events import EventLog
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
    from core.contracts.options import JobOptions, WithOptions
    from core.contracts.structured import (
        COMPLETE_STRUCTURED,
        INVALID_MODEL_OUTPUT,
        StructuredRequest,
        StructuredResult,
    )
    from core.events import (
        CancelledEvent,
        CompletedEvent,
        FailedEvent,
        StageEvent,
        StepCompletedEvent,
    )
    from core.failures import describe_failure
    from core.jobs import PROGRESS_MEMO

Run = TypeVar("Run", bound=WithOptions)
Progress = TypeVar("Progress", bound=JobProgress)
Result = TypeVar("Result", bound=BaseModel)
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


class JobWorkflow(ToolRunner, Generic[Run, Progress, Result]):
    """The base of every job workflow; see the module's docstring."""

    _progress_type: ClassVar[type[JobProgress]] = JobProgress

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each job workflow its progress model and its `@workflow.run` method, typed
        from `JobWorkflow[Run, Progress, Result]` (Temporal wants it on the class itself)."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is JobWorkflow:
                run_type, cls._progress_type, result_type = get_args(base)
                setattr(cls, "run", _run_method(cls, run_type, result_type))  # noqa: B010

    def __init__(self) -> None:
        super().__init__()
        self.events = EventLog()
        self.progress = cast(Progress, self._progress_type())
        self.options = JobOptions()
        # Every model that answered a step (more than one after a fallback).
        self.models: set[str] = set()

    @workflow.query(name="progress", description="The job's progress, as the API shows it.")
    def current_progress(self) -> JobProgress:
        return self.progress

    async def steps(self, input: Run) -> Result:
        """The job's own decisions: override this."""
        raise NotImplementedError

    async def run(self, input: Run) -> Result:
        """The workflow's entry point: `steps`, and publishing how the job ended."""
        return await self.run_job(input)

    async def run_job(self, input: Run) -> Result:
        """Run `steps` and publish how the job ended; continue-as-new passes through."""
        self.options = input.options
        try:
            result = await self.steps(input)
        except asyncio.CancelledError:
            self.events.publish(CancelledEvent())
            await self.events.flush()
            raise
        except FailureError as err:
            error_type, message = describe_failure(err)
            self.events.publish(FailedEvent(error={"type": error_type, "message": message}))
            await self.events.flush()
            raise
        self.show("done")
        # Kept on the closed run, so the API reads the final progress without a worker.
        workflow.upsert_memo({PROGRESS_MEMO: self.progress.model_dump(mode="json")})
        self.events.publish(CompletedEvent(result=result.model_dump(mode="json")))
        await self.events.flush()
        return result

    async def continue_as_new(self, next_input: Run) -> NoReturn:
        """Go on in a fresh run (a short history) once the log has every event."""
        await self.events.flush()
        workflow.continue_as_new(next_input)

    def show(self, stage: str | None = None, **fields: Any) -> None:
        """Move the progress (its stage and any of its fields) and show it everywhere: the
        `stage` event, the progress the API reads, and the Temporal UI's details."""
        progress = self.progress
        if stage is not None:
            progress.stage = stage
        for name, value in fields.items():
            setattr(progress, name, value)
        event = StageEvent(stage=progress.stage, completed=progress.completed, total=progress.total)
        self.events.publish(event, progress=progress)
        workflow.set_current_details(
            f"**{progress.stage}** · {self.details()} · {progress.usage.shown()}"
        )

    def details(self) -> str:
        """The job's line in the Temporal UI, after its stage; override to say more."""
        models = f" · {', '.join(sorted(self.models))}" if self.models else ""
        return f"{self.progress.completed}/{self.progress.total}{models}"

    def check_budget(self) -> None:
        """Fail the job, before a call, once its spend reached max_cost_usd."""
        if reason := over_budget(self.options, self.progress.usage):
            raise ApplicationError(reason, type=BUDGET_EXCEEDED, non_retryable=True)

    def count(self, answer: _Answer, step: str | None = None) -> None:
        """Add an answer to the job's usage and models; with `step`, publish it as done."""
        self.models.add(answer.model)
        self.progress.usage = self.progress.usage + answer.usage
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
            request = request.model_copy(update={"messages": _repaired(request, result)})
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
                update={"owner": job_owner(), "model": model, "fail_fast": fail_fast}
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
            update = {"owner": job_owner(), "model": model, "fail_fast": fail_fast}
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


def _run_method(cls: type[Any], run_type: Any, result_type: Any) -> Any:
    """`async def run(self, input: Run) -> Result`, as defined on `cls`."""

    async def run(self: JobWorkflow[Any, Any, Any], input: Any) -> Any:
        return await self.run_job(input)

    run.__annotations__ = {"input": run_type, "return": result_type}
    run.__qualname__ = f"{cls.__name__}.run"
    run.__module__ = cls.__module__
    return workflow.run(run)


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
