"""The agent's model call: the conversation comes from the claim-check store, tools are offered."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import offline_model
from activities.model_caller import ModelCall, ModelCaller
from activities.step_log import StepLog
from activities.token_stream import TokenStreams
from core.contracts.llm import (
    COMPLETE_AGENT_STEP,
    AgentStepRequest,
    AgentStepResult,
    ProposedCall,
    TokenUsage,
    assistant_message,
)
from core.contracts.tools import TOOL_SPECS
from core.request_diff import request_digest
from store import ConversationStore
from store.conversations import ConversationGap

log = structlog.get_logger(__name__)


class AgentLLMActivities:
    def __init__(
        self,
        caller: ModelCaller | None,
        default_model: str,
        store: ConversationStore,
        tokens: TokenStreams,
        steps: StepLog | None = None,
    ) -> None:
        self._steps = steps or StepLog(None)
        self._caller = caller
        self._default_model = default_model
        self._store = store
        self._tokens = tokens

    @activity.defn(name=COMPLETE_AGENT_STEP)
    async def complete_agent_step(self, request: AgentStepRequest) -> AgentStepResult:
        """Store the new messages, ask the model what to do next with the tools on offer, and
        store its reply."""
        stored = time.monotonic()
        try:
            messages = await self._store.extend(
                request.conversation_id, request.start, request.append
            )
        except ConversationGap as err:
            # Retrying cannot fill a gap: the workflow and the store disagree.
            raise ApplicationError(str(err), type="ConversationGap", non_retryable=True) from None
        store_s = time.monotonic() - stored
        model = request.model or self._default_model
        started = time.monotonic()
        # The record shows the step's new messages; its digest covers the whole conversation.
        asked = {
            "model": request.model,
            "start": request.start,
            "append": request.append,
            "tools": request.tools,
            "max_output_tokens": request.max_output_tokens,
        }
        step = self._steps.begin(
            request.recording,
            request.owner,
            request.step or f"agent-at-{request.start}",
            "agent",
            asked,
            request_digest({**asked, "append": None, "messages": messages}),
        )
        row = await step.taken()
        async with self._tokens.open(request.step) as on_text:
            if row is not None:
                result = AgentStepResult(
                    content=row.answer.get("content"),
                    tool_calls=[ProposedCall.model_validate(c) for c in row.answer["tool_calls"]],
                    model=row.model or "",
                    usage=step.usage(row),
                    source=step.source,
                )
                if on_text is not None and result.content:
                    on_text(result.content)
            elif self._caller is None or model == offline_model.OFFLINE_MODEL:
                result = _offline(messages, request.tools, on_text)
            else:
                answer = await self._caller.answer(
                    ModelCall(
                        model=model,
                        messages=messages,
                        owner=request.owner,
                        max_output_tokens=request.max_output_tokens,
                        tools=[
                            TOOL_SPECS[n].openai_schema() for n in request.tools if n in TOOL_SPECS
                        ],
                        cache=request.cache,
                        step=request.step,
                        fail_fast=request.fail_fast,
                    ),
                    on_text,
                )
                done = answer.completion
                result = AgentStepResult(
                    content=done.content,
                    tool_calls=done.tool_calls,
                    model=done.model,
                    usage=done.usage,
                    source=answer.source,
                )
        duration_s = time.monotonic() - started
        if row is None:
            kept = {
                "content": result.content,
                "model": result.model,
                "tool_calls": [c.model_dump(mode="json") for c in result.tool_calls],
            }
            await step.ran(kept, result.model, result.source, result.usage)
        stored = time.monotonic()
        reply_at = request.start + len(request.append)
        try:
            await self._store.put(
                request.conversation_id,
                reply_at,
                [assistant_message(result.content, result.tool_calls)],
            )
        except (OSError, TimeoutError, DBAPIError) as err:
            # The answer arrived and is paid for: failing now would make Temporal ask again.
            log.warning("conversation.reply_not_stored", error=type(err).__name__)
            result.stored = False
        store_s += time.monotonic() - stored
        log.info(
            "llm.completed",
            model=result.model,
            tool_calls=len(result.tool_calls),
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=result.usage.cost_usd,
            duration_ms=round(duration_s * 1000),
            # The claim check's round trips (store the new messages, read the conversation,
            # store the reply): what keeping the conversation out of history costs per step.
            conversation_ms=round(store_s * 1000, 1),
        )
        return result


def _offline(
    messages: list[dict[str, Any]], tools: list[str], on_text: Callable[[str], None] | None
) -> AgentStepResult:
    """The offline model: the tool the goal plainly asks for next, else an extractive answer
    from the goal and what the tools returned."""
    goal = next(str(m["content"]) for m in messages if m["role"] == "user")
    used = [
        call["function"]["name"]
        for m in messages
        if m["role"] == "assistant"
        for call in m.get("tool_calls") or []
    ]
    results = [str(m.get("content") or "") for m in messages if m["role"] == "tool"]
    usage = TokenUsage(
        input_tokens=sum(len(str(m.get("content") or "").split()) for m in messages),
        llm_calls=1,
    )
    proposal = offline_model.next_tool_call(goal, tools, used, results[-1] if results else None)
    if proposal is not None:
        name, arguments = proposal
        call = ProposedCall(id=f"offline_{len(used)}", name=name, arguments=json.dumps(arguments))
        return AgentStepResult(
            content=None, tool_calls=[call], model=offline_model.OFFLINE_MODEL, usage=usage
        )
    answer = offline_model.extract("\n\n".join([goal, *results]), 150)
    if on_text is not None:
        on_text(answer)
    return AgentStepResult(
        content=answer,
        tool_calls=[],
        model=offline_model.OFFLINE_MODEL,
        usage=usage.model_copy(update={"output_tokens": len(answer.split())}),
    )
