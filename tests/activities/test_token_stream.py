"""The last token batch is best effort: a model answer that has arrived is never lost, nor
paid for again, because the final flush to the job's stream is slow or fails."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.testing import ActivityEnvironment

from activities import token_stream
from activities.llm import LLMActivities
from core.contracts.llm import ChatMessage, ChatRequest
from tests.support.fake_openai import FakeOpenAI, Reply


class _Topic:
    def __init__(self, published: list[tuple[str, Any]], name: str) -> None:
        self._published, self._name = published, name

    def publish(self, value: Any) -> None:
        self._published.append((self._name, value))


class StuckStream:
    """A stream whose final flush hangs (the workflow unreachable) or fails outright."""

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.published: list[tuple[str, Any]] = []

    async def __aenter__(self) -> StuckStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.fail:
            raise TimeoutError("gave up signalling the workflow")
        await asyncio.Event().wait()

    def topic(self, name: str) -> _Topic:
        return _Topic(self.published, name)


@pytest.mark.parametrize("fail", [False, True], ids=["flush-hangs", "flush-fails"])
async def test_the_answer_survives_its_final_flush(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    """The call returns its answer once the flush's time is up (or it failed), and keeps
    heartbeating meanwhile, so Temporal never times it out and runs it again."""
    stream = StuckStream(fail=fail)
    monkeypatch.setattr(token_stream, "FINAL_FLUSH_S", 0.5)
    monkeypatch.setattr(WorkflowStreamClient, "from_within_activity", lambda **_: stream)
    fake_openai.script(Reply.ok("The answer arrived."))
    client = openai.AsyncOpenAI(
        api_key="sk-test", base_url=fake_openai.base_url, max_retries=0, timeout=5.0
    )
    llm = LLMActivities(client=client, default_model="fake-model")
    env = ActivityEnvironment()
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    request = ChatRequest(messages=[ChatMessage(role="user", content="Answer me.")], step="final")

    result = await asyncio.wait_for(env.run(llm.complete_chat, request), timeout=10)

    assert result.text == "The answer arrived."
    streamed = "".join(event.text for topic, event in stream.published if topic == "token")
    assert streamed == "The answer arrived."
    assert beats, "no heartbeat while the call's own work was in flight"
