"""Hostile input found by hand gets a 4xx naming the field, never a 500 or a job that fails on
every retry: NUL and lone surrogates anywhere in a body, a schema nested past any sense, dates
whose zone pushes them out of range, event offsets past a bigint, control characters in ids."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api

JSON = {"Content-Type": "application/json"}


async def post_raw(client: httpx.AsyncClient, path: str, text: str) -> httpx.Response:
    """`text` as the body, byte for byte: JSON escapes like `\\udfff` reach the server as sent."""
    return await client.post(path, content=text.encode(), headers=JSON)


def first_error(response: httpx.Response) -> dict[str, Any]:
    # The body is JSON even when the error quotes where a lone surrogate was sent.
    detail: list[dict[str, Any]] = json.loads(response.content)["detail"]
    return detail[0]


@pytest.mark.parametrize(
    ("body", "loc", "why"),
    [
        (
            '{"type": "summarize", "input": {"text": "hello", "model": "gpt\\u0000x"}}',
            ["body", "input", "model"],
            "NUL",
        ),
        (
            '{"type": "summarize", "input": {"text": "bad \\udfff half"}}',
            ["body", "input", "text"],
            "lone surrogate",
        ),
        (
            '{"type": "extract", "input": {"documents": [{"name": "a", "text": "x\\udfff"}],'
            ' "schema": {"type": "object"}}}',
            ["body", "input", "documents", 0, "text"],
            "lone surrogate",
        ),
        (
            '{"type": "classify", "input": {"items": ["a"], "labels": ["ok", "b\\u0000d"]}}',
            ["body", "input", "labels", 1],
            "NUL",
        ),
        (
            '{"type": "extract", "input": {"documents": [{"name": "a", "text": "x"}],'
            ' "schema": {"type": "object", "properties": {"\\ud800": {}}}}}',
            ["body", "input", "schema", "properties"],
            "field name",
        ),
    ],
)
async def test_unstorable_text_anywhere_in_a_body_is_422(
    api: Api, body: str, loc: list[Any], why: str
) -> None:
    before = (await api.alice.get("/v1/jobs", params={"limit": 100})).json()["jobs"]
    response = await post_raw(api.alice, "/v1/jobs", body)
    assert response.status_code == 422, response.text
    error = first_error(response)
    assert error["loc"] == loc
    assert why in error["msg"]
    # Nothing was started.
    after = (await api.alice.get("/v1/jobs", params={"limit": 100})).json()["jobs"]
    assert after == before


async def test_a_stranger_with_a_hostile_body_still_gets_401(api: Api) -> None:
    response = await post_raw(
        api.anonymous, "/v1/jobs", '{"type": "summarize", "input": {"text": "\\u0000"}}'
    )
    assert response.status_code == 401


async def test_an_answer_with_a_nul_is_422_and_the_job_still_waits(api: Api) -> None:
    job_id = await start_job(
        api.alice,
        {"type": "draft_review", "input": {"brief": "A note.", "review_timeout_s": 600}},
    )
    await wait_for(api.alice, job_id, "waiting_for_input")
    response = await post_raw(
        api.alice,
        f"/v1/jobs/{job_id}/input",
        '{"name": "review", "value": {"decision": "revise", "feedback": "no\\u0000"}}',
    )
    assert response.status_code == 422, response.text
    assert first_error(response)["loc"] == ["body", "value", "feedback"]
    assert (await api.alice.get(f"/v1/jobs/{job_id}")).json()["status"] == "waiting_for_input"
    await api.alice.post(f"/v1/jobs/{job_id}/cancel")


async def test_a_schema_nested_a_hundred_deep_is_422(api: Api) -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(100):
        schema = {"type": "object", "properties": {"p": schema}}
    response = await api.alice.post(
        "/v1/jobs",
        json={
            "type": "extract",
            "input": {"documents": [{"name": "a", "text": "x"}], "schema": schema},
        },
    )
    assert response.status_code == 422, response.text
    assert "nests deeper than" in first_error(response)["msg"]


async def test_a_body_nested_past_the_parser_is_a_4xx(api: Api) -> None:
    depth = 100_000
    response = await post_raw(api.alice, "/v1/jobs", "[" * depth + "]" * depth)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    "params",
    [{"from": "0001-01-01T00:00:00+01:00"}, {"to": "9999-12-31T23:59:59-01:00"}],
)
async def test_usage_dates_out_of_range_once_in_utc_are_422(
    api: Api, params: dict[str, str]
) -> None:
    response = await api.alice.get("/v1/usage", params=params)
    assert response.status_code == 422, response.text
    assert "out of range" in first_error(response)["msg"]


async def test_event_offsets_past_a_bigint_are_422(api: Api) -> None:
    job_id = await start_job(api.alice)
    await wait_for(api.alice, job_id, "completed")
    too_far = str(2**63)
    by_query = await api.alice.get(f"/v1/jobs/{job_id}/events", params={"from": too_far})
    by_header = await api.alice.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": too_far})
    assert (by_query.status_code, by_header.status_code) == (422, 422)
    # The largest offset itself is accepted: the closed job's stream ends with nothing after it.
    largest = await api.alice.get(f"/v1/jobs/{job_id}/events", params={"from": str(2**63 - 1)})
    assert largest.status_code == 200


@pytest.mark.parametrize("job_id", ["job%00x", "job%01x", "job%7Fx"])
async def test_a_job_id_with_a_control_character_is_422(api: Api, job_id: str) -> None:
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/events"):
        response = await api.alice.get(path)
        assert response.status_code == 422, (path, response.text)
