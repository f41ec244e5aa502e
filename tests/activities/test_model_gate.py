"""The model gate in a real activity against the fake model server: a 429 storm slows a call
instead of failing it, and a provider's `x-ratelimit-*` headers pause the model."""

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
def tokens(stores: Stores) -> TokenStreams:
    return TokenStreams(stores.events, timedelta(milliseconds=50))


def _llm(fake: FakeOpenAI, tokens: TokenStreams, caller_for: CallerFor) -> LLMActivities:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0)
    return LLMActivities(caller_for(client), "fake-model", tokens)


def _request(model: str) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content="Hello.")], model=model)


async def test_a_429_storm_slows_the_call_and_says_so(
    fake_openai: FakeOpenAI,
    stores: Stores,
    tokens: TokenStreams,
    caller_for: CallerFor,
) -> None:
    """Fifteen 429s (more than the activity's ten attempts) then an answer: one attempt
    returns it, and the job's events say it waited."""
    fake_openai.script(
        *[Reply.error(429, "slow down", retry_after_ms="20") for _ in range(15)],
        Reply.ok("Made it."),
    )
    job = f"job-{uuid.uuid4().hex}"
    env = step_env(job)
    llm = _llm(fake_openai, tokens, caller_for)

    result = await env.run(llm.complete_chat, _request(f"storm-{uuid.uuid4().hex}"))

    assert result.text == "Made it."
    assert len(fake_openai.requests) == 16
    waits = [e for e in await stores.events.read(job, after=-1) if e.type == "rate_limited"]
    assert waits
    assert waits[0].data["model"].startswith("storm-")


async def test_a_provider_out_of_requests_pauses_the_model(
    fake_openai: FakeOpenAI,
    stores: Stores,
    tokens: TokenStreams,
    caller_for: CallerFor,
) -> None:
    """`x-ratelimit-remaining-requests: 0` with a 2 s reset: the next call to that model, from
    any worker, waits for the reset."""
    model = f"tight-{uuid.uuid4().hex}"
    fake_openai.script(
        Reply(
            text="Last one.",
            headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"},
        )
    )
    llm = _llm(fake_openai, tokens, caller_for)
    await step_env().run(llm.complete_chat, _request(model))
    held = await stores.model_calls.admit(model, 10, None, timedelta(seconds=60))
    assert not held.admitted
    assert 1 < held.wait_s <= 2
