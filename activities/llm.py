"""The activity that asks a model for text: journal, cache, limits and billing come with it
(activities/model_caller.py); retries belong to Temporal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import offline_model
from activities.model_caller import ModelCall, ModelCaller
from activities.structured_output import check, offline_instance
from activities.token_stream import TokenStreams
from core.contracts.llm import COMPLETE_CHAT, ChatRequest, ChatResult, TokenUsage
from core.contracts.structured import COMPLETE_STRUCTURED, StructuredRequest, StructuredResult

log = structlog.get_logger(__name__)


class LLMActivities:
    """Holds one OpenAI client per worker process; `None` means only the offline model exists."""

    def __init__(
        self, caller: ModelCaller | None, default_model: str, tokens: TokenStreams
    ) -> None:
        self._caller = caller
        self._default_model = default_model
        self._tokens = tokens

    @activity.defn(name=COMPLETE_CHAT)
    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        """Ask the model once; failures are classified so Temporal retries only what can heal."""
        model = request.model or self._default_model
        started = time.monotonic()
        async with self._tokens.open(request.step) as on_text:
            if self._caller is None or model == offline_model.OFFLINE_MODEL:
                result = self._answer_offline(request, on_text)
            else:
                answer = await self._caller.answer(_model_call(model, request), on_text)
                done = answer.completion
                result = ChatResult(
                    text=done.content or "",
                    model=done.model,
                    usage=done.usage,
                    source=answer.source,
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
        return result

    @activity.defn(name=COMPLETE_STRUCTURED)
    async def complete_structured(self, request: StructuredRequest) -> StructuredResult:
        """Ask for JSON that fits the request's schema: the server's structured outputs where
        it has them, else JSON mode; either way the answer is checked against the schema here
        and any mismatch returned for the workflow to ask a repair (never a retry: the same
        prompt would get the same answer)."""
        model = request.model or self._default_model
        if self._caller is None or model == offline_model.OFFLINE_MODEL:
            text = next(m.content for m in reversed(request.messages) if m.role == "user")
            data = offline_instance(request.json_schema, text)
            words = sum(len(m.content.split()) for m in request.messages)
            return StructuredResult(
                data=data,
                raw=json.dumps(data),
                model=offline_model.OFFLINE_MODEL,
                usage=TokenUsage(input_tokens=words, output_tokens=1, llm_calls=1),
            )
        call = replace(
            _model_call(model, request),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.json_schema, "strict": False},
            },
        )
        try:
            answer = await self._caller.answer(call, None)
        except ApplicationError as err:
            if err.type != "InvalidRequest" or "response_format" not in err.message:
                raise
            # A server without structured outputs: JSON mode, and the schema check below.
            json_mode = replace(call, response_format={"type": "json_object"})
            answer = await self._caller.answer(json_mode, None)
        raw = answer.completion.content or ""
        data, errors = check(raw, request.json_schema)
        log.info("llm.structured", model=answer.completion.model, valid=not errors)
        return StructuredResult(
            data=data,
            errors=errors,
            raw=raw,
            model=answer.completion.model,
            usage=answer.completion.usage,
            source=answer.source,
        )

    @staticmethod
    def _answer_offline(request: ChatRequest, on_text: Callable[[str], None] | None) -> ChatResult:
        # The first user message holds the material (text to summarize, brief to draft from).
        text = next(m.content for m in request.messages if m.role == "user")
        max_words = (request.max_output_tokens or 300) // 2
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
