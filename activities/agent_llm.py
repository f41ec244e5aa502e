"""The agent's model call: the conversation comes from the claim-check store, tools are offered."""

from __future__ import annotations

import time
from typing import Any

import openai
import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from activities import offline_model
from activities.conversations import ConversationStore
from activities.heartbeat import heartbeating
from activities.llm import TokenUsage, create_completion
from activities.tools import TOOLS

log = structlog.get_logger(__name__)


class AgentStepRequest(BaseModel):
    conversation_id: str
    # New messages to store at positions start.. before the call (a retry rewrites the same).
    start: int = Field(ge=0)
    append: list[dict[str, Any]]
    tools: list[str]
    model: str | None = None
    max_output_tokens: int = Field(1000, gt=0)


class ProposedCall(BaseModel):
    """A tool call as the model proposed it: nothing here is trusted yet."""

    id: str
    name: str
    arguments: str


class AgentStepResult(BaseModel):
    content: str | None
    tool_calls: list[ProposedCall]
    model: str
    usage: TokenUsage


class AgentLLMActivities:
    def __init__(
        self, client: openai.AsyncOpenAI | None, default_model: str, store: ConversationStore
    ) -> None:
        self._client = client
        self._default_model = default_model
        self._store = store

    @activity.defn(name="complete_agent_step")
    async def complete_agent_step(self, request: AgentStepRequest) -> AgentStepResult:
        """Store the new messages, then ask the model what to do next with the tools on offer."""
        messages = await self._store.extend(request.conversation_id, request.start, request.append)
        model = request.model or self._default_model
        started = time.monotonic()
        if self._client is None or model == offline_model.OFFLINE_MODEL:
            result = _offline(messages)
        else:
            async with heartbeating():
                message, answered_by, usage = await create_completion(
                    self._client,
                    model,
                    messages,
                    max_output_tokens=request.max_output_tokens,
                    tools=[TOOLS[name].openai_schema() for name in request.tools if name in TOOLS],
                )
            result = AgentStepResult(
                content=message.content,
                tool_calls=[
                    ProposedCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
                    for c in message.tool_calls or []
                    if c.type == "function"
                ],
                model=answered_by,
                usage=usage,
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


def _offline(messages: list[dict[str, Any]]) -> AgentStepResult:
    """The offline model uses no tools: it answers extractively from the goal."""
    goal = next(str(m["content"]) for m in messages if m["role"] == "user")
    answer = offline_model.extract(goal, 150)
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
