"""complete_chats: independent calls in one activity, each journaled by its part, so a retry or
a fallback asks only the parts still unanswered, and each landed call is an event."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import openai
import pytest
from temporalio.exceptions import ApplicationError

from activities.llm import LLMActivities
from activities.token_stream import TokenStreams
from core.contracts.llm import BUDGET_EXCEEDED, BatchedChat, ChatBatch, ChatMessage, ChatRequest
from store import Stores
from tests.conftest import CallerFor
from tests.support.activities import step_env
from tests.support.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def llm(fake_openai: FakeOpenAI, stores: Stores, caller_for: CallerFor) -> LLMActivities:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    tokens = TokenStreams(stores.events, timedelta(milliseconds=50))
    return LLMActivities(caller_for(client), "gpt-4o-mini", tokens, stores.events)


def batch(texts: list[str], **fields: Any) -> ChatBatch:
    calls = [
        BatchedChat(
            part=f"chunk-{n}",
            request=ChatRequest(messages=[ChatMessage(role="user", content=text)], owner="alice"),
        )
        for n, text in enumerate(texts, start=1)
    ]
    return ChatBatch(calls=calls, **({"parallel": 4} | fields))


def asked(fake: FakeOpenAI) -> list[str]:
    return sorted(r.user_text for r in fake.requests)


async def steps_logged(stores: Stores, job: str) -> list[str]:
    events = await stores.events.read(job, after=-1)
    return sorted(e.data["step"] for e in events if e.type == "step_completed")


async def test_a_retry_asks_only_the_call_that_failed(
    llm: LLMActivities, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """Attempt 1: b fails (a 500, retryable) while a and c are answered, paid and logged, and
    the activity fails. Attempt 2 takes a and c from the journal and asks only b."""
    first_b = True

    def responder(request: dict[str, Any]) -> Reply:
        nonlocal first_b
        text = request["messages"][-1]["content"]
        if text == "b" and first_b:
            first_b = False
            return Reply.error(500, "overloaded")
        return Reply.ok(f"summary of {text}")

    fake_openai.responder = responder
    job, run = f"job-{uuid.uuid4().hex}", uuid.uuid4().hex
    calls = batch(["a", "b", "c"])
    with pytest.raises(ApplicationError) as failed:
        await step_env(job, run_id=run).run(llm.complete_chats, calls)
    assert not failed.value.non_retryable
    assert await steps_logged(stores, job) == ["chunk-1", "chunk-3"]
    assert len(await stores.ledger.for_job(job)) == 2

    again = await step_env(job, run_id=run, attempt=2).run(llm.complete_chats, calls)
    assert [r.text for r in again.results] == ["summary of a", "summary of b", "summary of c"]
    assert [r.source for r in again.results] == ["journal", "model", "journal"]
    assert asked(fake_openai) == ["a", "b", "b", "c"]
    assert len(await stores.ledger.for_job(job)) == 3
    assert await steps_logged(stores, job) == ["chunk-1", "chunk-2", "chunk-3"]


async def test_after_a_fallback_the_parts_answered_are_not_asked_again(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """The first model cannot answer b (404); the workflow sends the batch to the next model as
    a new activity, which finds a and c journaled and asks the new model only for b."""

    def responder(request: dict[str, Any]) -> Reply:
        text = request["messages"][-1]["content"]
        if text == "b" and request["model"] == "gpt-4o-mini":
            return Reply.error(404, "no such model", code="model_not_found")
        return Reply.ok(f"{request['model']} on {text}")

    fake_openai.responder = responder
    job, run = f"job-{uuid.uuid4().hex}", uuid.uuid4().hex
    with pytest.raises(ApplicationError) as failed:
        await step_env(job, run_id=run).run(llm.complete_chats, batch(["a", "b", "c"]))
    assert failed.value.non_retryable

    fallback = batch(["a", "b", "c"], may_be_answered=True)
    for call in fallback.calls:
        call.request.model = "gpt-4o"
    moved = await step_env(job, run_id=run, activity_id="2").run(llm.complete_chats, fallback)
    assert [r.text for r in moved.results] == [
        "gpt-4o-mini on a",
        "gpt-4o on b",
        "gpt-4o-mini on c",
    ]
    assert asked(fake_openai) == ["a", "b", "b", "c"]


async def test_no_call_starts_once_the_budget_is_spent(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """One at a time: the first call crosses max_cost_usd (with what the job spent before),
    so the next does not start and the batch fails for good with BudgetExceeded."""
    fake_openai.responder = lambda request: Reply.ok("paid", usage=(100_000, 1_000))
    calls = batch(["a", "b", "c"], parallel=1, max_cost_usd=0.02, spent_usd=0.01)
    with pytest.raises(ApplicationError) as stopped:
        await step_env().run(llm.complete_chats, calls)
    assert (stopped.value.type, stopped.value.non_retryable) == (BUDGET_EXCEEDED, True)
    assert "max_cost_usd ($0.02) reached" in stopped.value.message
    assert len(fake_openai.requests) == 1
