"""The one activity that talks to a model: a Chat Completions call whose retries Temporal owns."""

from __future__ import annotations

import time
from typing import Any, Literal

import openai
import structlog
from openai.types.chat import ChatCompletionMessage
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import offline_model
from activities.heartbeat import heartbeating
from activities.llm_errors import is_malformed_body, to_application_error

log = structlog.get_logger(__name__)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class TokenUsage(BaseModel):
    """Tokens billed, summed over calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            llm_calls=self.llm_calls + other.llm_calls,
        )


class ChatRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1)
    # None means the worker's default model (AIJOBS_MODEL), or `offline` when none is configured.
    model: str | None = None
    # Caps spend; the offline model writes at most half this many words.
    max_output_tokens: int | None = Field(default=None, gt=0)


class ChatResult(BaseModel):
    text: str
    # The model that actually answered, as the server reports it.
    model: str
    usage: TokenUsage


class LLMActivities:
    """Holds one OpenAI client per worker process; `None` means only the offline model exists."""

    def __init__(self, client: openai.AsyncOpenAI | None, default_model: str) -> None:
        self._client = client
        self._default_model = default_model

    @activity.defn(name="complete_chat")
    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        """Ask the model once; failures are classified so Temporal retries only what can heal."""
        model = request.model or self._default_model
        started = time.monotonic()
        if self._client is None or model == offline_model.OFFLINE_MODEL:
            result = self._answer_offline(request)
        else:
            async with heartbeating():
                result = await self._answer_online(request, self._client, model)
        log.info(
            "llm.completed",
            model=result.model,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return result

    @staticmethod
    def _answer_offline(request: ChatRequest) -> ChatResult:
        # The first user message holds the material (text to summarize, brief to draft from).
        text = next(m.content for m in request.messages if m.role == "user")
        max_words = (request.max_output_tokens or 300) // 2
        answer = offline_model.extract(text, max_words)
        return ChatResult(
            text=answer,
            model=offline_model.OFFLINE_MODEL,
            usage=TokenUsage(
                input_tokens=sum(len(m.content.split()) for m in request.messages),
                output_tokens=len(answer.split()),
                llm_calls=1,
            ),
        )

    @staticmethod
    async def _answer_online(
        request: ChatRequest, client: openai.AsyncOpenAI, model: str
    ) -> ChatResult:
        message, answered_by, usage = await create_completion(
            client,
            model,
            [m.model_dump() for m in request.messages],
            max_output_tokens=request.max_output_tokens,
        )
        return ChatResult(text=message.content or "", model=answered_by, usage=usage)


async def create_completion(
    client: openai.AsyncOpenAI,
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_output_tokens: int | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> tuple[ChatCompletionMessage, str, TokenUsage]:
    """One Chat Completions call: (message, model that answered, usage), failures classified."""
    params: dict[str, Any] = {"model": model, "messages": messages}
    if max_output_tokens is not None:
        params["max_completion_tokens"] = max_output_tokens
    if tools:
        params["tools"] = tools
    try:
        response = await client.chat.completions.create(**params)
    except openai.OpenAIError as err:
        raise to_application_error(err) from err
    except Exception as err:
        if is_malformed_body(err):
            raise ApplicationError(
                "model server sent a body that is not JSON", type="MalformedResponse"
            ) from err
        raise
    if not response.choices:
        raise ApplicationError("model server sent no choices", type="MalformedResponse")
    choice = response.choices[0]
    if choice.finish_reason == "content_filter":
        raise ApplicationError(
            "the model's content filter refused", type="ContentFiltered", non_retryable=True
        )
    if choice.message.refusal:
        raise ApplicationError(
            f"the model refused: {choice.message.refusal}", type="Refused", non_retryable=True
        )
    usage = response.usage
    return (
        choice.message,
        response.model or model,
        TokenUsage(
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            llm_calls=1,
        ),
    )
