"""The built-in jobs replayed from their recorded cassettes on the time-skipping server: the
recorded result, with no model call; a request the cassette does not hold fails loudly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from core.contracts.steps import Cassette
from tests.support.cassettes import CASSETTES
from tests.support.fake_openai import FakeOpenAI

Replay = Callable[[Cassette | Path], Awaitable[Any]]
# What differs between a run and its replay by design: usage (reused, not paid), times, and
# the ids of questions (each run asks its own).
VARYING = frozenset({"usage", "at", "duration_ms", "question_id"})


def stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


@pytest.mark.parametrize("path", sorted(CASSETTES.glob("*.json")), ids=lambda p: p.stem)
async def test_each_built_in_job_replays_its_cassette(
    path: Path, replay_cassette: Replay, fake_openai: FakeOpenAI
) -> None:
    """The job returns what it returned when recorded, and the model is never asked."""
    cassette = Cassette.model_validate_json(await asyncio.to_thread(path.read_text))
    result = await replay_cassette(cassette)
    assert stable(result) == stable(cassette.result)
    assert result["usage"]["llm_calls"] == 0
    assert result["usage"]["reused"] == sum(
        s.kind != "human" and s.kind != "tool" for s in cassette.steps
    )
    assert fake_openai.requests == []


async def test_a_request_the_cassette_does_not_hold_fails_with_a_diff(
    replay_cassette: Replay, fake_openai: FakeOpenAI
) -> None:
    """As if the job's code had changed its prompt: ReplayMiss names the step and the change."""
    text = await asyncio.to_thread((CASSETTES / "summarize.json").read_text)
    cassette = Cassette.model_validate_json(text)
    first = cassette.steps[0]
    messages = first.request["messages"]
    recorded = messages[0]["content"].replace("Summarize", "Condense")
    first.request = {
        **first.request,
        "messages": [{**messages[0], "content": recorded}, *messages[1:]],
    }
    first.digest = "0" * 64
    with pytest.raises(WorkflowFailureError) as failed:
        await replay_cassette(cassette)
    activity_failed = failed.value.cause
    assert isinstance(activity_failed, ActivityError)
    cause = activity_failed.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ReplayMiss"
    assert f"step {first.name!r}" in cause.message
    assert "messages[0] (system) changed:" in cause.message
    assert "- 'Condense'" in cause.message
    assert "+ 'Summarize'" in cause.message
    assert fake_openai.requests == []
