"""Bounds at the door: a job that would make too many model calls, or names a model the
deployment does not allow, is a 422 with the numbers, before anything starts."""

from __future__ import annotations

from core.config import Settings
from tests.conftest import Api


async def test_a_megabyte_in_200_character_chunks_is_refused_with_the_numbers(
    api: Api, settings: Settings
) -> None:
    """1 MB at chunk_chars=200 would take thousands of calls: 422 names them and the limit."""
    settings.max_body_bytes = 2_000_000
    text = "The quick brown fox jumps over the lazy dog. " * 23_000
    response = await api.alice.post(
        "/v1/jobs", json={"type": "summarize", "input": {"text": text, "chunk_chars": 200}}
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "input"]
    message = error["msg"]
    assert "model calls" in message
    assert "the limit is 500 per job (AIJOBS_MAX_CALLS_PER_JOB)" in message
    calls = int(message.split("would make ", 1)[1].split(" model calls", 1)[0].replace(",", ""))
    assert calls > 5_000
    assert (await api.alice.get("/v1/jobs")).json()["jobs"] == []


async def test_a_job_within_the_limit_starts(api: Api, settings: Settings) -> None:
    """The same text in larger chunks fits the limit and starts."""
    settings.max_calls_per_job = 3
    response = await api.alice.post(
        "/v1/jobs", json={"type": "summarize", "input": {"text": "Short text. " * 30}}
    )
    assert response.status_code == 202, response.text
    too_many = await api.alice.post(
        "/v1/jobs", json={"type": "agent", "input": {"goal": "Do it.", "max_steps": 4}}
    )
    assert too_many.status_code == 422
    assert "max_steps 4" in too_many.json()["detail"][0]["msg"]


async def test_a_model_outside_the_allow_list_is_refused(api: Api, settings: Settings) -> None:
    """AIJOBS_ALLOWED_MODELS: another model is a 422 listing the allowed ones."""
    settings.allowed_models = frozenset({"fake-model", "gpt-4o-mini"})
    response = await api.alice.post(
        "/v1/jobs",
        json={"type": "summarize", "input": {"text": "Some text.", "model": "gpt-5-pro"}},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == (
        "model 'gpt-5-pro' is not allowed here; allowed models: fake-model, gpt-4o-mini"
    )
    allowed = await api.alice.post(
        "/v1/jobs",
        json={"type": "summarize", "input": {"text": "Some text.", "model": "fake-model"}},
    )
    assert allowed.status_code == 202
