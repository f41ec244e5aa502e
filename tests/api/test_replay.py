"""Strict replay and cassettes over HTTP: no model call, the same result, and a readable
ReplayMiss when the code asks something else."""

from __future__ import annotations

import json
from typing import Any

from tests.api.jobs_client import start_job, wait_for
from tests.api.test_answer import ingested
from tests.api.test_reruns import SUMMARIZE, steps_of
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply


def replaying(source: str, **input: Any) -> dict[str, Any]:
    return {
        "type": "summarize",
        "input": {**SUMMARIZE["input"], **input},
        "options": {"replay_from": source},
    }


async def test_a_replay_of_an_unchanged_job_calls_no_model(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """Every step comes from the recording: the same summary, no request to the model."""
    recorded = await start_job(api.alice, SUMMARIZE)
    first = await wait_for(api.alice, recorded, "completed")
    asked = len(fake_openai.requests)
    replay = await start_job(api.alice, replaying(recorded))
    done = await wait_for(api.alice, replay, "completed")
    assert len(fake_openai.requests) == asked
    assert done["result"]["summary"] == first["result"]["summary"]
    assert done["result"]["usage"]["llm_calls"] == 0
    assert {s["source"] for s in await steps_of(api.alice, replay)} == {"recording"}


async def test_a_changed_prompt_fails_the_replay_with_a_diff(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """max_words is in the system prompt: the replay fails with ReplayMiss naming the step,
    the message that changed and how, and the model is never asked."""
    recorded = await start_job(api.alice, SUMMARIZE)
    await wait_for(api.alice, recorded, "completed")
    asked = len(fake_openai.requests)
    replay = await start_job(api.alice, replaying(recorded, max_words=40))
    error = (await wait_for(api.alice, replay, "failed"))["error"]
    assert error["type"] == "ReplayMiss"
    message = error["message"]
    assert "step 'chunk-" in message
    assert "messages[0] (system) changed:" in message
    assert "- '50'" in message
    assert "+ '40'" in message
    assert "max_output_tokens: 164 -> 144" in message
    assert len(fake_openai.requests) == asked


async def test_a_cassette_round_trip_replays_for_its_owner_only(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """Export, import, replay: the same result with no model call. Another owner can neither
    replay the job nor the cassette; a cassette of an unknown type, another version or an
    input its type refuses is a 422."""
    recorded = await start_job(api.alice, SUMMARIZE)
    first = await wait_for(api.alice, recorded, "completed")
    response = await api.alice.get(f"/v1/jobs/{recorded}/cassette")
    assert response.status_code == 200, response.text
    cassette = response.json()
    assert cassette["version"] == 1
    assert cassette["job"]["type"] == "summarize"
    assert [s["name"] for s in cassette["steps"]] == [
        "chunk-1",
        "chunk-2",
        "chunk-3",
        "combine-1-1",
    ]
    assert cassette["result"]["summary"] == first["result"]["summary"]

    imported = await api.alice.post("/v1/cassettes", json=cassette)
    assert imported.status_code == 201, imported.text
    cassette_id = imported.json()["id"]
    assert imported.json() == {"id": cassette_id, "type": "summarize", "steps": 4}
    asked = len(fake_openai.requests)
    replay = await start_job(api.alice, replaying(cassette_id))
    done = await wait_for(api.alice, replay, "completed")
    assert done["result"]["summary"] == first["result"]["summary"]
    assert len(fake_openai.requests) == asked

    for source in (cassette_id, recorded):
        response = await api.bob.post("/v1/jobs", json=replaying(source))
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "options", "replay_from"]
    unknown = {**cassette, "job": {**cassette["job"], "type": "poetry"}}
    response = await api.alice.post("/v1/cassettes", json=unknown)
    assert response.status_code == 422
    assert "unknown job type 'poetry'" in response.text
    response = await api.alice.post("/v1/cassettes", json={**cassette, "version": 2})
    assert response.status_code == 422
    broken = {**cassette, "job": {**cassette["job"], "input": {"max_words": "fifty"}}}
    response = await api.alice.post("/v1/cassettes", json=broken)
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["detail"]} == {
        ("body", "job", "input", "text"),
        ("body", "job", "input", "max_words"),
    }


async def test_a_replayed_answer_job_embeds_nothing_and_asks_nothing(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """Retrieval is a step too: a replay of an answer job makes neither an embedding call nor
    a chat call, and returns the recorded answer."""
    await ingested(api)
    fake_openai.script(
        Reply.ok(json.dumps({"answer": "Maybe blue.", "grounded": False, "citations": []}))
    )
    body = {"type": "answer", "input": {"collection": "handbook", "question": "Office colour?"}}
    recorded = await start_job(api.alice, body)
    first = await wait_for(api.alice, recorded, "completed")
    assert [s["name"] for s in await steps_of(api.alice, recorded)] == ["retrieve", "answer"]
    asked = len(fake_openai.requests)
    replay = await start_job(api.alice, {**body, "options": {"replay_from": recorded}})
    done = await wait_for(api.alice, replay, "completed")
    assert len(fake_openai.requests) == asked
    assert done["result"]["answer"] == first["result"]["answer"]
    assert [s["source"] for s in await steps_of(api.alice, replay)] == ["recording", "recording"]
