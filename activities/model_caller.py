"""Everything between an LLM activity and the model: the step's journal, the cross-run cache,
the fleet's model limits, the call itself (heartbeating), and billing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, TypeVar

import openai
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import heartbeat, model_metrics
from activities.billing import Billing
from activities.chat_completions import Completion, create_completion
from activities.circuit_breaker import CircuitBreaker
from activities.database_waits import until_stored
from activities.heartbeat import heartbeating
from activities.model_gate import ModelGate, estimate_tokens
from activities.token_stream import remember_failure
from core.contracts.llm import (
    MODEL_UNAVAILABLE,
    AnswerSource,
    CachePolicy,
    ProposedCall,
    TokenUsage,
)
from core.request_diff import request_digest
from store import ModelAnswers
from store.ledger import Charge

log = structlog.get_logger(__name__)
_tracer = trace.get_tracer(__name__)

CacheScope = Literal["owner", "global"]
T = TypeVar("T")


@dataclass(frozen=True)
class ModelCall:
    """What to ask. Everything that changes the answer is part of the cache key."""

    model: str
    messages: list[dict[str, Any]]
    owner: str | None
    max_output_tokens: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    temperature: float | None = None
    cache: CachePolicy | None = None
    step: str | None = None
    # The workflow has another model to try: a model whose circuit is open fails at once.
    fail_fast: bool = False
    response_format: dict[str, Any] | None = None
    # Within a batch activity: the call's name in its run, keying its journal entry and
    # ledger line; `may_be_answered` says an earlier activity may have journaled it.
    part: str | None = None
    may_be_answered: bool = False

    def cache_policy(self) -> CachePolicy:
        if self.cache is not None:
            return self.cache
        return "use" if self.temperature == 0 else "off"

    def cache_key(self, scope: CacheScope) -> str:
        request = {
            "model": self.model,
            "messages": self.messages,
            "tools": self.tools,
            "max_output_tokens": self.max_output_tokens,
            "temperature": self.temperature,
            "response_format": self.response_format,
        }
        # Per owner unless shared on purpose: no owner ever receives another owner's answer.
        whose = "*" if scope == "global" else f"owner:{self.owner or ''}"
        return f"{whose}/{request_digest(request)}"


@dataclass(frozen=True)
class Answer:
    completion: Completion
    source: AnswerSource


class ModelCaller:
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        gate: ModelGate,
        billing: Billing,
        answers: ModelAnswers,
        cache_ttl: timedelta,
        cache_scope: CacheScope = "owner",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._gate = gate
        self._billing = billing
        self._answers = answers
        self._ttl = cache_ttl
        self._scope = cache_scope
        self._breaker = breaker or CircuitBreaker()

    async def answer(self, call: ModelCall, on_text: Callable[[str], None] | None) -> Answer:
        """The step's answer: from its journal (a retry after the answer arrived), from the
        cache, or from the model; paid for at most once. One span per answer, named and
        described as OpenTelemetry's GenAI conventions say; the HTTP call is its child."""
        with _tracer.start_as_current_span(
            f"chat {call.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": call.model,
            },
        ) as span:
            if activity.info().attempt > 1:
                model_metrics.retried(call.model)
            try:
                # Beating from the start: a step queued on the database or the model's limit
                # under load is alive, not lost.
                async with heartbeating():
                    answer = await self._answer(call, on_text)
            except ApplicationError as err:
                model_metrics.failed(call.model, err.type or "ApplicationError")
                raise
            usage = answer.completion.usage
            model_metrics.answered(call.model, answer.source, usage)
            span.set_attributes(
                {
                    "gen_ai.response.model": answer.completion.model,
                    "gen_ai.usage.input_tokens": usage.input_tokens,
                    "gen_ai.usage.output_tokens": usage.output_tokens,
                    "aijobs.answer_source": answer.source,
                    "aijobs.cache_hit": answer.source == "cache",
                    "aijobs.saved_cost_usd": usage.saved_cost_usd,
                }
            )
            if usage.cost_usd is not None:
                span.set_attribute("aijobs.cost_usd", usage.cost_usd)
            return answer

    async def _answer(self, call: ModelCall, on_text: Callable[[str], None] | None) -> Answer:
        info = activity.info()
        step_id = info.activity_id if call.part is None else call.part
        journal_key = f"{info.workflow_id}/{info.workflow_run_id}/{step_id}"
        if info.attempt > 1 and (unsaved := heartbeat.carried(journal_key)) is not None:
            # The last attempt had the answer but not the database: it is kept now, with the
            # ledger line that attempt made (recorded once, whatever happens next).
            completion = _completion(unsaved["answer"])
            await self._keep(
                journal_key, unsaved["answer"], Charge.from_json(unsaved["charge"]), None
            )
            _replay_text(completion, on_text)
            log.info("llm.from_heartbeat", model=completion.model)
            return Answer(completion, "journal")
        # Only a retry (or a batch after a fallback) can find the answer kept: a first
        # attempt saves the read. The read waits for the database: asking the model instead
        # could pay a second time for an answer the journal holds.
        look = info.attempt > 1 or call.may_be_answered
        if look and (
            kept := await until_stored(lambda: self._answers.journaled(journal_key), "journal")
        ):
            completion = _completion(kept)
            _replay_text(completion, on_text)
            log.info("llm.from_journal", model=completion.model)
            # The attempt that received it was billed; this one costs nothing more.
            return Answer(completion, "journal")
        policy = call.cache_policy()
        if self._scope == "owner" and call.owner is None:
            # A job with no owner (started outside the API) has no cache to share.
            policy = "off"
        cache_key = call.cache_key(self._scope)
        if policy == "use" and (hit := await self._try(self._answers.cached(cache_key))):
            original = _completion(hit)
            _replay_text(original, on_text)
            bill = self._billing.bill_saving(
                call.owner, call.model, original.model, original.usage, call.part
            )
            completion = Completion(
                original.content, original.model, bill.usage, original.tool_calls
            )
            await self._keep(journal_key, _stored(completion), bill.charge, None)
            return Answer(completion, "cache")
        completion = await self._call(call, on_text)
        bill = self._billing.bill(
            call.owner, call.model, completion.model, completion.usage, call.part
        )
        completion.usage = bill.usage
        cache = (cache_key, self._ttl) if policy in ("use", "refresh") else None
        await self._keep(journal_key, _stored(completion), bill.charge, cache)
        return Answer(completion, "model")

    async def _keep(
        self,
        journal_key: str,
        stored: dict[str, Any],
        charge: Charge,
        cache: tuple[str, timedelta] | None,
    ) -> None:
        """Before the activity reports it, in one transaction: the ledger line, and the
        journal entry so a retry of this step does not pay again. While the database is away
        this waits, and the heartbeat carries the answer and its line to the next attempt."""
        await until_stored(
            lambda: self._answers.keep(journal_key, stored, charge, cache),
            "model answer",
            on_outage=lambda: heartbeat.carry(
                journal_key, {"answer": stored, "charge": charge.to_json()}
            ),
        )
        heartbeat.drop(journal_key)

    async def _call(self, call: ModelCall, on_text: Callable[[str], None] | None) -> Completion:
        if call.fail_fast and self._breaker.is_open(call.model):
            raise ApplicationError(
                f"{call.model} is failing on this worker's recent calls; trying the next model",
                type=MODEL_UNAVAILABLE,
                non_retryable=True,
            )
        try:
            completion = await self._call_model(call, on_text)
        except ApplicationError as err:
            if not err.non_retryable:
                self._breaker.failed(call.model)
            raise
        self._breaker.succeeded(call.model)
        return completion

    async def _call_model(
        self, call: ModelCall, on_text: Callable[[str], None] | None
    ) -> Completion:
        client = self._client
        async with remember_failure():
            return await self._gate.call(
                call.model,
                estimate_tokens(call.messages, call.max_output_tokens),
                call.step,
                lambda: create_completion(
                    client,
                    call.model,
                    call.messages,
                    max_output_tokens=call.max_output_tokens,
                    tools=call.tools or None,
                    temperature=call.temperature,
                    response_format=call.response_format,
                    on_text=on_text,
                ),
            )

    @staticmethod
    async def _try(operation: Awaitable[T]) -> T | None:
        """A cache read that fails costs a model call, never the step."""
        try:
            return await operation
        except Exception as err:
            log.warning("llm.answer_store_unavailable", reason=type(err).__name__)
            return None


def _stored(completion: Completion) -> dict[str, Any]:
    return {
        "content": completion.content,
        "model": completion.model,
        "usage": completion.usage.model_dump(mode="json"),
        "tool_calls": [c.model_dump(mode="json") for c in completion.tool_calls],
    }


def _completion(stored: dict[str, Any]) -> Completion:
    return Completion(
        content=stored.get("content"),
        model=str(stored["model"]),
        usage=TokenUsage.model_validate(stored["usage"]),
        tool_calls=[ProposedCall.model_validate(c) for c in stored.get("tool_calls", [])],
    )


def _replay_text(completion: Completion, on_text: Callable[[str], None] | None) -> None:
    """A streamed step answered without the model still streams its text."""
    if on_text is not None and completion.content:
        on_text(completion.content)
