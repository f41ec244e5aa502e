"""Talking to an OpenAI-compatible server: one Chat Completions call, streamed or not, with
failures classified for Temporal and tool calls assembled from their deltas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
from temporalio.exceptions import ApplicationError

from activities.llm_errors import is_malformed_body, provider_pause, to_application_error
from core.contracts.llm import ProposedCall, TokenUsage


@dataclass
class Completion:
    content: str | None
    model: str
    usage: TokenUsage
    tool_calls: list[ProposedCall] = field(default_factory=list)
    # Seconds the provider said it will take no more (its x-ratelimit-* headers), if so.
    pause_s: float | None = None


async def create_completion(
    client: openai.AsyncOpenAI,
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_output_tokens: int | None = None,
    tools: list[dict[str, Any]] | None = None,
    temperature: float | None = None,
    response_format: dict[str, Any] | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Completion:
    """One call. With `on_text`, the answer is streamed and each text delta handed over as it
    arrives; the whole answer is returned either way."""
    params: dict[str, Any] = {"model": model, "messages": messages}
    if max_output_tokens is not None:
        params["max_completion_tokens"] = max_output_tokens
    if tools:
        params["tools"] = tools
    if temperature is not None:
        params["temperature"] = temperature
    if response_format is not None:
        params["response_format"] = response_format
    try:
        if on_text is None:
            raw = await client.chat.completions.with_raw_response.create(**params)
            completion = _from_response(raw.parse(), model)
        else:
            raw = await client.chat.completions.with_raw_response.create(
                **params, stream=True, stream_options={"include_usage": True}
            )
            completion = await _from_stream(raw.parse(), model, on_text)
        completion.pause_s = provider_pause(raw.headers)
        return completion
    except openai.OpenAIError as err:
        raise to_application_error(err) from err
    except ApplicationError:
        raise
    except Exception as err:
        if is_malformed_body(err):
            raise ApplicationError(
                "model server sent a body that is not JSON", type="MalformedResponse"
            ) from err
        raise


def _from_response(response: Any, model: str) -> Completion:
    if not response.choices:
        raise ApplicationError("model server sent no choices", type="MalformedResponse")
    choice = response.choices[0]
    _check_finish(choice.finish_reason, choice.message.refusal)
    usage = response.usage
    return Completion(
        content=choice.message.content,
        model=response.model or model,
        usage=TokenUsage(
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            llm_calls=1,
        ),
        tool_calls=[
            ProposedCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in choice.message.tool_calls or []
            if c.type == "function"
        ],
    )


async def _from_stream(stream: Any, model: str, on_text: Callable[[str], None]) -> Completion:
    text: list[str] = []
    refusal: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage = TokenUsage(llm_calls=1)
    finish: str | None = None
    answered_by = model
    async for chunk in stream:
        answered_by = chunk.model or answered_by
        if chunk.usage:
            usage = TokenUsage(
                input_tokens=chunk.usage.prompt_tokens,
                output_tokens=chunk.usage.completion_tokens,
                llm_calls=1,
            )
        for choice in chunk.choices:
            delta = choice.delta
            finish = choice.finish_reason or finish
            if delta.content:
                text.append(delta.content)
                on_text(delta.content)
            if delta.refusal:
                refusal.append(delta.refusal)
            # Tool calls arrive in pieces, keyed by index: the id and name once, arguments in parts.
            for piece in delta.tool_calls or []:
                slot = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = piece.id or slot["id"]
                if piece.function:
                    slot["name"] += piece.function.name or ""
                    slot["arguments"] += piece.function.arguments or ""
    if finish is None:
        # A 200 that is not an event stream, or one cut short: nothing trustworthy arrived.
        raise ApplicationError(
            "model server's stream ended without a finish", type="MalformedResponse"
        )
    _check_finish(finish, "".join(refusal) or None)
    return Completion(
        content="".join(text) if text or not calls else None,
        model=answered_by,
        usage=usage,
        tool_calls=[ProposedCall(**calls[i]) for i in sorted(calls)],
    )


def _check_finish(finish_reason: str | None, refusal: str | None) -> None:
    if finish_reason == "content_filter":
        raise ApplicationError(
            "the model's content filter refused", type="ContentFiltered", non_retryable=True
        )
    if refusal:
        raise ApplicationError(f"the model refused: {refusal}", type="Refused", non_retryable=True)
