"""The activity that asks a model for text: journal, cache, limits and billing come with it
(activities/model_caller.py); retries belong to Temporal."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from temporalio import activity

from activities import offline_model
from activities.model_caller import ModelCall, ModelCaller
from activities.token_stream import TokenStreams
from core.contracts.llm import COMPLETE_CHAT, ChatRequest, ChatResult, TokenUsage

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
                answer = await self._caller.answer(
                    ModelCall(
                        model=model,
                        messages=[m.model_dump() for m in request.messages],
                        owner=request.owner,
                        max_output_tokens=request.max_output_tokens,
                        temperature=request.temperature,
                        cache=request.cache,
                        step=request.step,
                        fail_fast=request.fail_fast,
                    ),
                    on_text,
                )
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
