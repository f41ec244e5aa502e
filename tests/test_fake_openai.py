"""The fake model server speaks the wire protocol the real `openai` client expects."""

from __future__ import annotations

import time

import openai
import pytest

from tests.support.fake_openai import FakeOpenAI, Reply


async def test_streams_deltas_then_usage(fake_openai: FakeOpenAI) -> None:
    """`stream=True` yields word deltas as they are written, then a usage chunk."""
    fake_openai.script(Reply.ok("one two three four", delay_s=0.4, usage=(12, 4)))
    client = openai.AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    started = time.monotonic()
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    deltas: list[tuple[float, str]] = []
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            deltas.append((time.monotonic() - started, chunk.choices[0].delta.content))
        if chunk.usage:
            usage = chunk.usage
    assert "".join(text for _, text in deltas) == "one two three four"
    # The first word arrived well before the last: the reply really was streamed.
    assert deltas[-1][0] - deltas[0][0] >= 0.2
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (12, 4)
    assert fake_openai.requests[0].body["stream"] is True


async def test_unknown_route_is_404(fake_openai: FakeOpenAI) -> None:
    """Chat Completions and Embeddings are served; anything else is a 404 the client
    reports."""
    client = openai.AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    with pytest.raises(openai.NotFoundError, match="no such route"):
        await client.moderations.create(input="x")


async def test_embeddings_speak_the_wire_protocol(fake_openai: FakeOpenAI) -> None:
    """The SDK reads the fake's embeddings: one vector per input, in order, with usage."""
    client = openai.AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    fake_openai.embed = lambda text: [float(len(text)), 1.0]
    answer = await client.embeddings.create(model="m", input=["ab", "abcd"])
    assert [row.embedding for row in answer.data] == [[2.0, 1.0], [4.0, 1.0]]
    assert answer.usage.prompt_tokens == 2
