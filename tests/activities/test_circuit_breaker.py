"""The per-worker circuit breaker: a model failing everywhere is skipped, then tried again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import openai
import pytest
from temporalio.exceptions import ApplicationError

from activities.billing import Billing
from activities.circuit_breaker import CircuitBreaker
from activities.llm import LLMActivities
from activities.model_caller import ModelCaller
from activities.model_gate import ModelGate
from activities.token_stream import TokenStreams
from core.contracts.llm import ChatMessage, ChatRequest
from store import Stores
from tests.support.activities import step_env
from tests.support.fake_openai import FakeOpenAI, Reply


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_failures_and_closes_after_a_good_trial() -> None:
    """Five failures in a row open it for 30 s; then one trial call: success closes it, a
    failure opens it again at once."""
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=5, open_for_s=30, clock=clock)
    for _ in range(4):
        breaker.failed("m")
    assert not breaker.is_open("m")
    breaker.failed("m")
    assert breaker.is_open("m")
    assert not breaker.is_open("other")
    clock.now = 31
    assert not breaker.is_open("m")  # the trial
    breaker.failed("m")
    assert breaker.is_open("m")
    clock.now = 62
    assert not breaker.is_open("m")
    breaker.succeeded("m")
    breaker.failed("m")
    assert not breaker.is_open("m")


async def test_an_open_circuit_fails_fast_only_when_another_model_follows(
    fake_openai: FakeOpenAI, stores: Stores, billing: Billing, gate: ModelGate
) -> None:
    """With the circuit open, a call that has a fallback fails at once with ModelUnavailable
    (no request reaches the server); the last model in a chain still tries."""
    breaker = CircuitBreaker(failures_to_open=1)
    client = openai.AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    caller = ModelCaller(client, gate, billing, stores.answers, timedelta(days=1), breaker=breaker)
    llm = LLMActivities(
        caller, "fake-model", TokenStreams(stores.events, timedelta(milliseconds=50))
    )
    model = f"flaky-{uuid.uuid4().hex}"
    fake_openai.script(Reply.error(500, "down"), Reply.ok("Still here."))
    request = ChatRequest(messages=[ChatMessage(role="user", content="Hi.")], model=model)
    with pytest.raises(ApplicationError):
        await step_env().run(llm.complete_chat, request)
    with pytest.raises(ApplicationError) as skipped:
        await step_env().run(llm.complete_chat, request.model_copy(update={"fail_fast": True}))
    assert skipped.value.type == "ModelUnavailable"
    assert len(fake_openai.requests) == 1
    assert (await step_env().run(llm.complete_chat, request)).text == "Still here."
