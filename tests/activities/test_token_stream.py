"""Tokens reach the job's event log in order while the call runs, and the last batch is best
effort: a model answer that has arrived is never lost, nor paid for again, because the final
write is slow or fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import openai
import pytest
from temporalio.testing import ActivityEnvironment

from activities import heartbeat, token_stream
from activities.llm import LLMActivities
from activities.token_stream import TokenStreams
from core.contracts.llm import ChatMessage, ChatRequest
from store import JobEventLog, Stores
from store.job_events import NewEvent
from tests.conftest import CallerFor
from tests.support.activities import step_env
from tests.support.fake_openai import FakeOpenAI, Reply

REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="Answer me.")], step="final")


class StuckLog(JobEventLog):
    """An event log whose database hangs (unreachable) or refuses every write."""

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail

    async def append(
        self, job_id: str, batch: Sequence[NewEvent], progress: dict[str, Any] | None = None
    ) -> int:
        if self.fail:
            raise ConnectionResetError("database went away")
        await asyncio.Event().wait()
        return 0


def _client(fake_openai: FakeOpenAI) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="sk-test", base_url=fake_openai.base_url, max_retries=0, timeout=5.0
    )


def _env(job_id: str, attempt: int = 1, details: Sequence[Any] = ()) -> ActivityEnvironment:
    return step_env(job_id, activity_id="7", attempt=attempt, heartbeat_details=details)


async def test_tokens_arrive_in_order_in_few_events(
    fake_openai: FakeOpenAI, stores: Stores, caller_for: CallerFor
) -> None:
    """Every delta of the answer is in the log, in order, coalesced into batches."""
    text = " ".join(f"w{i}" for i in range(300))
    fake_openai.script(Reply.ok(text, delay_s=0.3))
    llm = LLMActivities(
        caller_for(_client(fake_openai)),
        "fake-model",
        TokenStreams(stores.events, timedelta(seconds=0.05)),
    )
    job = f"job-{uuid.uuid4().hex}"

    await _env(job).run(llm.complete_chat, REQUEST)

    events = await stores.events.read(job, after=-1, limit=1000)
    assert {e.type for e in events} == {"token"}
    assert "".join(e.data["text"] for e in events) == text
    assert 1 < len(events) < 300


async def test_a_retried_attempt_says_why_first(
    fake_openai: FakeOpenAI, stores: Stores, caller_for: CallerFor
) -> None:
    """Attempt 2 opens with a `retry` event quoting the failure its predecessor heartbeated."""
    fake_openai.script(Reply.ok("Second time lucky."))
    llm = LLMActivities(
        caller_for(_client(fake_openai)),
        "fake-model",
        TokenStreams(stores.events, timedelta(seconds=0.05)),
    )
    job = f"job-{uuid.uuid4().hex}"

    await _env(job, attempt=2, details=["ServerError: overloaded"]).run(llm.complete_chat, REQUEST)

    events = await stores.events.read(job, after=-1)
    assert events[0].type == "retry"
    assert events[0].data["reason"] == "ServerError: overloaded"
    assert "".join(e.data["text"] for e in events[1:]) == "Second time lucky."
    assert {e.data["attempt"] for e in events} == {2}


@pytest.mark.parametrize("fail", [False, True], ids=["log-hangs", "log-fails"])
async def test_the_answer_survives_its_final_flush(
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    fail: bool,
    caller_for: CallerFor,
) -> None:
    """The call returns its answer once the flush's time is up (or it failed), and keeps
    heartbeating meanwhile, so Temporal never times it out and runs it again."""
    monkeypatch.setattr(token_stream, "FINAL_FLUSH_S", 0.5)
    # Beats start after one interval; shortened so this half-second call sees several.
    monkeypatch.setattr(heartbeat, "HEARTBEAT_EVERY_S", 0.1)
    fake_openai.script(Reply.ok("The answer arrived."))
    tokens = TokenStreams(StuckLog(fail=fail), timedelta(seconds=0.05))
    llm = LLMActivities(caller_for(_client(fake_openai)), "fake-model", tokens)
    env = _env(f"job-{uuid.uuid4().hex}")
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    result = await asyncio.wait_for(env.run(llm.complete_chat, REQUEST), timeout=10)

    assert result.text == "The answer arrived."
    if not fail:
        # Waiting out a hung flush is time in flight: it must heartbeat (a failed flush
        # ends at once, before any beat is due).
        assert beats, "no heartbeat while the call's own work was in flight"
