"""The journal and the cross-run cache around a real model call (the fake server): a retried
step never pays twice, the same request is answered once per owner and TTL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import openai
import pytest

from activities.llm import LLMActivities
from activities.token_stream import TokenStreams
from core.contracts.llm import ChatMessage, ChatRequest
from store import Stores
from tests.conftest import CallerFor
from tests.support.activities import step_env
from tests.support.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def llm(fake_openai: FakeOpenAI, stores: Stores, caller_for: CallerFor) -> LLMActivities:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    tokens = TokenStreams(stores.events, timedelta(milliseconds=50))
    return LLMActivities(caller_for(client), "gpt-4o-mini", tokens)


def _request(owner: str, temperature: float | None = None) -> ChatRequest:
    text = f"Summarize {uuid.uuid4().hex}."
    return ChatRequest(
        messages=[ChatMessage(role="user", content=text)], owner=owner, temperature=temperature
    )


async def test_a_retried_step_takes_its_answer_from_the_journal(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """Attempt 1 got the answer but never reported it (a worker killed, Temporal unreachable);
    attempt 2 of the same step returns that answer without asking the model again."""
    fake_openai.script(Reply.ok("Paid for once."))
    job = f"job-{uuid.uuid4().hex}"
    request = _request("alice")
    first = await step_env(job, activity_id="4", run_id="r1").run(llm.complete_chat, request)
    again = await step_env(job, activity_id="4", run_id="r1", attempt=2).run(
        llm.complete_chat, request
    )
    assert (first.text, again.text) == ("Paid for once.", "Paid for once.")
    assert (first.source, again.source) == ("model", "journal")
    assert len(fake_openai.requests) == 1


async def test_the_same_request_is_answered_from_the_cache_per_owner(
    llm: LLMActivities, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """At temperature 0 a second job's identical call is a hit: no model call, the saving in
    usage and the ledger. Another owner does not hit; `refresh` calls again; `off` skips."""
    fake_openai.script(Reply.ok("Cached answer."), Reply.ok("Bob's own."), Reply.ok("Fresh."))
    request = _request("alice", temperature=0.0)
    first = await step_env().run(llm.complete_chat, request)
    job = f"job-{uuid.uuid4().hex}"
    hit = await step_env(job).run(llm.complete_chat, request)
    assert (hit.text, hit.source) == ("Cached answer.", "cache")
    assert (hit.usage.llm_calls, hit.usage.cost_usd, hit.usage.cache_hits) == (0, 0.0, 1)
    assert hit.usage.saved_cost_usd == first.usage.cost_usd
    [line] = await stores.ledger.for_job(job)
    assert line.cache_hit
    assert line.saved_cost_usd is not None
    assert len(fake_openai.requests) == 1

    other_owner = request.model_copy(update={"owner": "bob"})
    assert (await step_env().run(llm.complete_chat, other_owner)).text == "Bob's own."
    refreshed = request.model_copy(update={"cache": "refresh"})
    assert (await step_env().run(llm.complete_chat, refreshed)).source == "model"
    assert (await step_env().run(llm.complete_chat, request)).text == "Fresh."
    assert len(fake_openai.requests) == 3


async def test_sampled_calls_are_not_cached_unless_asked(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """Without temperature 0 the default is `off`: each call asks the model."""
    fake_openai.script(Reply.ok("One."), Reply.ok("Two."))
    request = _request("alice")
    texts = [(await step_env().run(llm.complete_chat, request)).text for _ in range(2)]
    assert texts == ["One.", "Two."]


async def test_an_expired_answer_is_not_served(stores: Stores) -> None:
    """The TTL holds: an answer kept for no time is gone, one kept for an hour is there."""
    key = f"owner:alice/{uuid.uuid4().hex}"
    answer = {"content": "x", "model": "m", "usage": {}, "tool_calls": []}
    await stores.answers.cache(key, answer, timedelta(0))
    assert await stores.answers.cached(key) is None
    await stores.answers.cache(key, answer, timedelta(hours=1))
    assert await stores.answers.cached(key) == answer
