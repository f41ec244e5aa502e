"""`complete_chat` against the fake model server: answers, and how failures classify."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import openai
import pytest
from temporalio.exceptions import ApplicationError

from activities.llm import LLMActivities
from activities.llm_errors import MAX_RETRY_AFTER, retry_after
from activities.token_stream import TokenStreams
from core.contracts.llm import ChatMessage, ChatRequest, ChatResult
from store import Stores
from tests.conftest import CallerFor
from tests.support.activities import step_env
from tests.support.fake_openai import FakeOpenAI, Reply

REQUEST = ChatRequest(
    messages=[
        ChatMessage(role="system", content="Summarize."),
        ChatMessage(role="user", content="The quick brown fox. It jumps."),
    ],
    max_output_tokens=64,
)


@pytest.fixture
def tokens(stores: Stores) -> TokenStreams:
    return TokenStreams(stores.events, timedelta(milliseconds=50))


@pytest.fixture
def llm(fake_openai: FakeOpenAI, tokens: TokenStreams, caller_for: CallerFor) -> LLMActivities:
    client = openai.AsyncOpenAI(
        api_key="sk-test", base_url=fake_openai.base_url, max_retries=0, timeout=2.0
    )
    return LLMActivities(caller_for(client), "fake-model", tokens)


async def call(llm: LLMActivities, request: ChatRequest = REQUEST) -> ChatResult:
    return await step_env().run(llm.complete_chat, request)


async def failure(llm: LLMActivities) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await call(llm)
    return caught.value


async def test_answer_carries_text_model_and_usage(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """A 200 becomes text, the answering model and token usage; the request is well formed."""
    fake_openai.script(Reply.ok("A fox jumps.", usage=(42, 7)))
    result = await call(llm)
    assert result.text == "A fox jumps."
    assert result.model == "fake-model"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.llm_calls) == (
        42,
        7,
        1,
    )
    sent = fake_openai.requests[0]
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "fake-model"
    assert sent.body["max_completion_tokens"] == 64
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]


async def test_requested_model_overrides_default(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """A model named in the request is the one asked."""
    request = REQUEST.model_copy(update={"model": "bigger-model"})
    result = await call(llm, request)
    assert fake_openai.requests[0].body["model"] == "bigger-model"
    assert result.model == "bigger-model"


async def test_a_429_pauses_the_model_then_the_same_attempt_goes_through(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """A 429 is not a failure: the call waits the server's Retry-After (pausing the model for
    every worker) and is made again within the same attempt."""
    fake_openai.script(Reply.error(429, "slow down", retry_after="1"), Reply.ok("There."))
    # A model of its own, so the pause holds up no other test.
    request = REQUEST.model_copy(update={"model": f"storm-{uuid.uuid4().hex}"})
    result = await call(llm, request)
    assert result.text == "There."
    first, second = fake_openai.requests
    assert second.at - first.at >= 0.95


async def test_retry_after_ms_wins_over_seconds(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """`retry-after-ms` is the more precise header and is preferred."""
    fake_openai.script(Reply.error(503, "busy", retry_after_ms="1500", retry_after="9"))
    err = await failure(llm)
    assert err.type == "ServerError"
    assert err.next_retry_delay == timedelta(milliseconds=1500)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(408, "RequestTimeout"), (409, "Conflict"), (500, "ServerError"), (502, "ServerError")],
)
async def test_transient_statuses_are_retryable(
    llm: LLMActivities, fake_openai: FakeOpenAI, status: int, error_type: str
) -> None:
    """408, 409 and 5xx may heal, so Temporal retries them."""
    fake_openai.script(Reply.error(status))
    err = await failure(llm)
    assert err.type == error_type
    assert not err.non_retryable


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "InvalidRequest"),
        (401, "AuthenticationFailed"),
        (403, "PermissionDenied"),
        (404, "ModelNotFound"),
        (422, "UnprocessableRequest"),
    ],
)
async def test_permanent_statuses_stop_retrying(
    llm: LLMActivities, fake_openai: FakeOpenAI, status: int, error_type: str
) -> None:
    """A request the server will never accept fails at once, with a readable type and message."""
    fake_openai.script(Reply.error(status, "the server says no"))
    err = await failure(llm)
    assert err.type == error_type
    assert err.non_retryable
    assert f"answered {status}: the server says no" in err.message


async def test_content_policy_refusals_are_permanent(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """A policy refusal (400 with its code, or a filtered finish) is not retried."""
    fake_openai.script(Reply.error(400, "no", code="content_policy_violation"), Reply.filtered())
    assert (await failure(llm)).type == "ContentPolicyViolation"
    filtered = await failure(llm)
    assert filtered.type == "ContentFiltered"
    assert filtered.non_retryable


async def test_malformed_json_is_retryable(llm: LLMActivities, fake_openai: FakeOpenAI) -> None:
    """A 200 whose body is not JSON is a server glitch worth another attempt."""
    fake_openai.script(Reply.malformed())
    err = await failure(llm)
    assert err.type == "MalformedResponse"
    assert not err.non_retryable


async def test_slow_server_times_out_retryably(llm: LLMActivities, fake_openai: FakeOpenAI) -> None:
    """The client's own timeout (2 s here) surfaces as a retryable Timeout."""
    fake_openai.script(Reply.ok("late", delay_s=3.0))
    err = await failure(llm)
    assert err.type == "Timeout"
    assert not err.non_retryable


async def test_unreachable_server_is_retryable(tokens: TokenStreams, caller_for: CallerFor) -> None:
    """Connection refused is transient: the server may be restarting."""
    client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    err = await failure(LLMActivities(caller_for(client), "m", tokens))
    assert err.type == "ConnectionFailed"
    assert not err.non_retryable


async def test_offline_model_answers_without_network(tokens: TokenStreams) -> None:
    """With no client the built-in model answers, extractively, and says it is `offline`."""
    result = await call(LLMActivities(None, "offline", tokens))
    assert result.model == "offline"
    assert result.text == "The quick brown fox. It jumps."
    assert result.usage.llm_calls == 1


async def test_offline_model_keeps_to_the_words_the_prompt_asks_for(
    tokens: TokenStreams,
) -> None:
    """A summary asked for in 40 words is at most 40 words, although its token cap (the
    summarize job's 2 * 40 + 64) would allow 72."""
    text = " ".join(f"Sentence {i} has exactly six words." for i in range(60))
    request = ChatRequest(
        messages=[ChatMessage(role="user", content=text)], max_output_tokens=144, max_words=40
    )
    result = await call(LLMActivities(None, "offline", tokens), request)
    assert 30 <= len(result.text.split()) <= 40


async def test_offline_can_be_requested_with_a_client(
    llm: LLMActivities, fake_openai: FakeOpenAI
) -> None:
    """Asking for `offline` by name never reaches the model server."""
    result = await call(llm, REQUEST.model_copy(update={"model": "offline"}))
    assert result.model == "offline"
    assert fake_openai.requests == []


def test_retry_after_reads_http_dates_and_clamps() -> None:
    """An HTTP-date header is honoured; absurd values are clamped to the maximum."""
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    delay = retry_after({"retry-after": soon})
    assert delay is not None
    assert timedelta(seconds=25) < delay <= timedelta(seconds=30)
    assert retry_after({"retry-after": "86400"}) == MAX_RETRY_AFTER
    assert retry_after({"retry-after": "-5"}) == timedelta(0)
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
