"""The agent's model call: the conversation comes from the claim-check store, tools are offered."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import openai
import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from activities import offline_model
from activities.chat_completions import ProposedCall, TokenUsage, create_completion
from activities.conversations import ConversationStore
from activities.heartbeat import heartbeating
from activities.token_stream import remember_failure, tokens_for
from activities.tools import TOOLS

__all__ = ["AgentLLMActivities", "AgentStepRequest", "AgentStepResult", "ProposedCall"]

log = structlog.get_logger(__name__)


class AgentStepRequest(BaseModel):
    conversation_id: str
    # New messages to store at positions start.. before the call (a retry rewrites the same).
    start: int = Field(ge=0)
    append: list[dict[str, Any]]
    tools: list[str]
    model: str | None = None
    max_output_tokens: int = Field(1000, gt=0)
    # Names the step in the job's event stream; tokens are streamed there when it is set.
    step: str | None = None


class AgentStepResult(BaseModel):
    content: str | None
    tool_calls: list[ProposedCall]
    model: str
    usage: TokenUsage


class AgentLLMActivities:
    def __init__(
        self,
        client: openai.AsyncOpenAI | None,
        default_model: str,
        store: ConversationStore,
        stream_batch: timedelta = timedelta(milliseconds=100),
    ) -> None:
        self._client = client
        self._default_model = default_model
        self._store = store
        self._stream_batch = stream_batch

    @activity.defn(name="complete_agent_step")
    async def complete_agent_step(self, request: AgentStepRequest) -> AgentStepResult:
        """Store the new messages, then ask the model what to do next with the tools on offer."""
        messages = await self._store.extend(request.conversation_id, request.start, request.append)
        model = request.model or self._default_model
        started = time.monotonic()
        async with tokens_for(request.step, self._stream_batch) as on_text:
            if self._client is None or model == offline_model.OFFLINE_MODEL:
                result = _offline(messages, on_text)
            else:
                async with heartbeating(), remember_failure():
                    answer = await create_completion(
                        self._client,
                        model,
                        messages,
                        max_output_tokens=request.max_output_tokens,
                        tools=[TOOLS[n].openai_schema() for n in request.tools if n in TOOLS],
                        on_text=on_text,
                    )
                result = AgentStepResult(
                    content=answer.content,
                    tool_calls=answer.tool_calls,
                    model=answer.model,
                    usage=answer.usage,
                )
        log.info(
            "llm.completed",
            model=result.model,
            tool_calls=len(result.tool_calls),
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return result


def _offline(
    messages: list[dict[str, Any]], on_text: Callable[[str], None] | None
) -> AgentStepResult:
    """The offline model uses no tools: it answers extractively from the goal."""
    goal = next(str(m["content"]) for m in messages if m["role"] == "user")
    answer = offline_model.extract(goal, 150)
    if on_text is not None:
        on_text(answer)
    return AgentStepResult(
        content=answer,
        tool_calls=[],
        model=offline_model.OFFLINE_MODEL,
        usage=TokenUsage(
            input_tokens=sum(len(str(m.get("content") or "").split()) for m in messages),
            output_tokens=len(answer.split()),
            llm_calls=1,
        ),
    )
