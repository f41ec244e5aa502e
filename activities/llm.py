"""The activity that asks a model for text: journal, cache, limits and billing come with it
(activities/model_caller.py); retries belong to Temporal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import offline_model
from activities.database_waits import until_stored
from activities.heartbeat import heartbeating
from activities.json_field_stream import JsonFieldText
from activities.model_caller import ModelCall, ModelCaller
from activities.step_log import Step, StepLog
from activities.structured_output import check, offline_instance
from activities.token_stream import TokenStreams
from core.contracts.llm import (
    BUDGET_EXCEEDED,
    COMPLETE_CHAT,
    COMPLETE_CHATS,
    BatchedChat,
    ChatBatch,
    ChatBatchResult,
    ChatRequest,
    ChatResult,
    TokenUsage,
)
from core.contracts.structured import COMPLETE_STRUCTURED, StructuredRequest, StructuredResult
from core.events import StepCompletedEvent
from store import JobEventLog
from store.job_events import NewEvent
from store.job_steps import StepRow

log = structlog.get_logger(__name__)


class LLMActivities:
    """Holds one OpenAI client per worker process; `None` means only the offline model exists."""

    def __init__(
        self,
        caller: ModelCaller | None,
        default_model: str,
        tokens: TokenStreams,
        events: JobEventLog | None = None,
        steps: StepLog | None = None,
    ) -> None:
        """`events` (the job event log) is needed only by `complete_chats`."""
        self._steps = steps or StepLog(None)
        self._caller = caller
        self._default_model = default_model
        self._tokens = tokens
        self._events = events

    @activity.defn(name=COMPLETE_CHAT)
    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        """Ask the model once; failures are classified so Temporal retries only what can heal."""
        async with self._tokens.open(request.step) as on_text:
            return await self._ask(request, on_text)

    @activity.defn(name=COMPLETE_CHATS)
    async def complete_chats(self, batch: ChatBatch) -> ChatBatchResult:
        """Ask independent calls at most `parallel` at a time; each answered call is written
        to its job's events as it lands. Every answer is journaled by its part, so when one
        call fails the others still finish, and the retry asks only the failed ones."""
        limit = asyncio.Semaphore(batch.parallel)
        spent = batch.spent_usd
        landed = _EventWriter(self._events, activity.info().workflow_id or "")

        async def ask(call: BatchedChat) -> ChatResult:
            nonlocal spent
            async with limit:
                limit_usd = batch.max_cost_usd
                if limit_usd is not None and spent >= limit_usd:
                    raise ApplicationError(
                        f"max_cost_usd (${limit_usd:g}) reached: ${spent:.6f} spent",
                        type=BUDGET_EXCEEDED,
                        non_retryable=True,
                    )
                if call.json_schema is None:
                    result = await self._ask(call.request, None, call.part, batch.may_be_answered)
                else:
                    result = await self._ask_structured(
                        call.request, call.json_schema, call.part, batch.may_be_answered
                    )
                spent += result.usage.cost_usd or 0.0
            await landed.write(_step_completed(call.part, result))
            return result

        # One beat for the batch: its calls share it, and it goes on while answers and events
        # wait for the database.
        async with heartbeating():
            outcomes = await asyncio.gather(
                *(ask(call) for call in batch.calls), return_exceptions=True
            )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            # A permanent failure decides how the batch ends; a retry re-asks only the
            # failed parts, whatever the others' outcome.
            permanent = [f for f in failures if getattr(f, "non_retryable", False)]
            raise (permanent or failures)[0]
        return ChatBatchResult(results=[o for o in outcomes if isinstance(o, ChatResult)])

    async def _ask(
        self,
        request: ChatRequest,
        on_text: Callable[[str], None] | None,
        part: str | None = None,
        may_be_answered: bool = False,
    ) -> ChatResult:
        step = self._steps.begin(
            request.recording,
            request.owner,
            part or request.step or "chat",
            "chat",
            _asked(request),
        )
        if row := await step.taken():
            return _taken(step, row, on_text)
        model = request.model or self._default_model
        started = time.monotonic()
        if self._caller is None or model == offline_model.OFFLINE_MODEL:
            result = self._answer_offline(request, on_text)
        else:
            call = replace(_model_call(model, request), part=part, may_be_answered=may_be_answered)
            answer = await self._caller.answer(call, on_text)
            done = answer.completion
            result = ChatResult(
                text=done.content or "", model=done.model, usage=done.usage, source=answer.source
            )
        log.info(
            "llm.completed",
            model=result.model,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=result.usage.cost_usd,
            source=result.source,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        kept = {"content": result.text, "model": result.model}
        await step.ran(kept, result.model, result.source, result.usage)
        return result

    @activity.defn(name=COMPLETE_STRUCTURED)
    async def complete_structured(self, request: StructuredRequest) -> StructuredResult:
        """Ask for JSON that fits the request's schema: the server's structured outputs where
        it has them, else JSON mode; either way the answer is checked against the schema here
        and any mismatch returned for the workflow to ask a repair (never a retry: the same
        prompt would get the same answer)."""
        field = request.stream_field
        async with self._tokens.open(request.step if field else None) as on_text:
            streamed = JsonFieldText(field, on_text) if field and on_text else None
            answer = await self._ask_structured(request, request.json_schema, on_text=streamed)
        return StructuredResult(
            data=answer.data,
            errors=answer.errors,
            raw=answer.text,
            model=answer.model,
            usage=answer.usage,
            source=answer.source,
        )

    async def _ask_structured(
        self,
        request: ChatRequest | StructuredRequest,
        schema: dict[str, Any],
        part: str | None = None,
        may_be_answered: bool = False,
        on_text: Callable[[str], None] | None = None,
    ) -> ChatResult:
        asked = {**_asked(request), "json_schema": schema}
        name = part or request.step or "structured"
        step = self._steps.begin(request.recording, request.owner, name, "structured", asked)
        if row := await step.taken():
            return _taken(step, row, on_text, schema)
        result = await self._answer_structured(request, schema, part, may_be_answered, on_text)
        kept = {"content": result.text, "model": result.model}
        await step.ran(kept, result.model, result.source, result.usage)
        return result

    async def _answer_structured(
        self,
        request: ChatRequest | StructuredRequest,
        schema: dict[str, Any],
        part: str | None,
        may_be_answered: bool,
        on_text: Callable[[str], None] | None,
    ) -> ChatResult:
        model = request.model or self._default_model
        if self._caller is None or model == offline_model.OFFLINE_MODEL:
            text = next(m.content for m in reversed(request.messages) if m.role == "user")
            data = offline_instance(schema, text)
            if on_text is not None:
                on_text(json.dumps(data))
            words = sum(len(m.content.split()) for m in request.messages)
            return ChatResult(
                text=json.dumps(data),
                data=data,
                model=offline_model.OFFLINE_MODEL,
                usage=TokenUsage(input_tokens=words, output_tokens=1, llm_calls=1),
            )
        call = replace(
            _model_call(model, request),
            part=part,
            may_be_answered=may_be_answered,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": False},
            },
        )
        try:
            answer = await self._caller.answer(call, on_text)
        except ApplicationError as err:
            if err.type != "InvalidRequest" or "response_format" not in err.message:
                raise
            # A server without structured outputs: JSON mode, and the schema check below.
            json_mode = replace(call, response_format={"type": "json_object"})
            answer = await self._caller.answer(json_mode, on_text)
        raw = answer.completion.content or ""
        data, errors = check(raw, schema)
        log.info("llm.structured", model=answer.completion.model, valid=not errors)
        return ChatResult(
            text=raw,
            data=data,
            errors=errors,
            model=answer.completion.model,
            usage=answer.completion.usage,
            source=answer.source,
        )

    @staticmethod
    def _answer_offline(request: ChatRequest, on_text: Callable[[str], None] | None) -> ChatResult:
        # The first user message holds the material (text to summarize, brief to draft from).
        text = next(m.content for m in request.messages if m.role == "user")
        max_words = request.max_words or (request.max_output_tokens or 300) // 2
        answer = offline_model.extract(text, max_words)
        if on_text is not None:
            for index, word in enumerate(answer.split(" ")):
                on_text(word if index == 0 else " " + word)
        return ChatResult(
            text=answer,
            model=offline_model.OFFLINE_MODEL,
            usage=TokenUsage(
                input_tokens=sum(len(m.content.split()) for m in request.messages),
                output_tokens=len(answer.split()),
                llm_calls=1,
            ),
        )


def _step_completed(part: str, result: ChatResult) -> NewEvent:
    event = StepCompletedEvent(
        step=part,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
        source=result.source,
    )
    # Keyed by run and part: a retried batch writes each part's event once.
    key = f"{activity.info().workflow_run_id}/{part}/completed"
    return NewEvent(key, event.type, event.model_dump(mode="json"))


class _EventWriter:
    """Events of one job written as they come, one append at a time: what lands while an
    append runs goes in the next, so calls landing together cost one transaction."""

    def __init__(self, events: JobEventLog | None, job_id: str) -> None:
        if events is None:
            raise RuntimeError("complete_chats needs the job event log")
        self._events = events
        self._job_id = job_id
        self._pending: list[NewEvent] = []
        self._writing = asyncio.Lock()

    async def write(self, event: NewEvent) -> None:
        """Return once `event` is in the log (written here or by an append before)."""
        self._pending.append(event)
        async with self._writing:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                # Waits out a database outage: failing here would fail the batch, and its retry
                # would ask the calls that did not land yet again.
                await until_stored(lambda: self._events.append(self._job_id, batch), "events")
            except BaseException:
                # Still to be written: the next writer (or the activity's retry) tries again.
                self._pending[:0] = batch
                raise


def _taken(
    step: Step,
    row: StepRow,
    on_text: Callable[[str], None] | None,
    schema: dict[str, Any] | None = None,
) -> ChatResult:
    """A step answered from its record: its text streamed as a model's would be, and, for a
    structured step, checked against the schema again."""
    text = str(row.answer.get("content") or "")
    if on_text is not None and text:
        on_text(text)
    data, errors = check(text, schema) if schema is not None else (None, [])
    return ChatResult(
        text=text,
        data=data,
        errors=errors,
        model=row.model or "",
        usage=step.usage(row),
        source=step.source,
    )


def _asked(request: ChatRequest | StructuredRequest) -> dict[str, Any]:
    """What a step asks, as its record keeps it: the model the job named (None for the
    deployment's default, so a recording replays on any deployment) and what changes the
    answer."""
    return {
        "model": request.model,
        "messages": [m.model_dump() for m in request.messages],
        "max_output_tokens": request.max_output_tokens,
        "temperature": request.temperature,
    }


def _model_call(model: str, request: ChatRequest | StructuredRequest) -> ModelCall:
    """What both activities ask the model, from the fields their requests share."""
    return ModelCall(
        model=model,
        messages=[m.model_dump() for m in request.messages],
        owner=request.owner,
        max_output_tokens=request.max_output_tokens,
        temperature=request.temperature,
        cache=request.cache,
        step=request.step,
        fail_fast=request.fail_fast,
    )
