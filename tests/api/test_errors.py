"""Bad input gets a clear status and message, never a traceback, and the API keeps serving."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from api.job_service import JobService
from core.config import Settings
from store.database import PING_TIMEOUT_S
from store.embedded import start_embedded
from store.migrate import upgrade
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api, key_of, make_settings
from tests.support.api_server import serve_api


def locs(response: httpx.Response) -> list[list[Any]]:
    return [error["loc"] for error in response.json()["detail"]]


@pytest.fixture
async def after(api: Api) -> AsyncIterator[None]:
    """After each bad request the service still answers a good one normally."""
    yield
    job_id = await start_job(api.alice)
    await wait_for(api.alice, job_id, "completed")


@pytest.mark.usefixtures("after")
async def test_unknown_type_lists_valid_ones(api: Api) -> None:
    """422 naming the valid types."""
    response = await api.alice.post("/v1/jobs", json={"type": "translate", "input": {}})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "type"]
    valid = "agent, answer, classify, draft_review, extract, ingest, summarize"
    assert error["msg"] == f"unknown job type 'translate'; valid types: {valid}"


@pytest.mark.usefixtures("after")
@pytest.mark.parametrize(
    ("job_input", "loc"),
    [
        ({}, ["body", "input", "text"]),
        ({"text": "ok", "max_words": 0}, ["body", "input", "max_words"]),
        ({"text": "ok", "max_words": "many"}, ["body", "input", "max_words"]),
        ({"text": "ok", "chunk_chars": 10}, ["body", "input", "chunk_chars"]),
        ({"text": "   "}, ["body", "input", "text"]),
        ({"text": "ok", "colour": "red"}, ["body", "input", "colour"]),
    ],
)
async def test_bad_input_has_field_errors(
    api: Api, job_input: dict[str, Any], loc: list[Any]
) -> None:
    """The type's own input model validates the input; errors point at the field."""
    response = await api.alice.post("/v1/jobs", json={"type": "summarize", "input": job_input})
    assert response.status_code == 422
    assert locs(response) == [loc]


@pytest.mark.usefixtures("after")
@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'"text"', b'{"type": "summarize"}', b""],
)
async def test_malformed_bodies_are_422(api: Api, content: bytes) -> None:
    """Bodies that are not JSON, or not the envelope, are 422s with a location."""
    response = await api.alice.post(
        "/v1/jobs", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert locs(response)
    assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.usefixtures("after")
async def test_bad_query_parameters_are_422(api: Api) -> None:
    """Unknown status or type, out-of-range limit, and forged page tokens."""
    for params in (
        {"status": "sleeping"},
        {"type": "translate"},
        {"limit": 0},
        {"limit": 101},
        {"page_token": "!!!not-base64!!!"},
        {"page_token": "bm90IGEgdG9rZW4="},
    ):
        response = await api.alice.get("/v1/jobs", params=params)
        assert response.status_code == 422, (params, response.text)
        assert locs(response)[0][0] == "query"


@pytest.mark.usefixtures("after")
async def test_bad_idempotency_key_is_422(api: Api) -> None:
    """An over-long Idempotency-Key is refused, not truncated."""
    response = await api.alice.post(
        "/v1/jobs", json=SUMMARIZE, headers={"Idempotency-Key": "k" * 201}
    )
    assert response.status_code == 422
    assert locs(response) == [["header", "idempotency-key"]]


@pytest.mark.usefixtures("after")
async def test_oversized_body_is_413(api: Api) -> None:
    """Over AIJOBS_MAX_BODY_BYTES (20 kB here): 413, whether the size is declared or streamed."""
    big = {"type": "summarize", "input": {"text": "word " * 10_000}}
    declared = await api.alice.post("/v1/jobs", json=big)
    assert declared.status_code == 413
    assert declared.json()["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(30):
            yield b"x" * 1000

    streamed = await api.alice.post(
        "/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_temporal_unreachable_is_503(settings: Settings) -> None:
    """With no Temporal server, job routes answer 503 with a plain message; readyz says so too."""
    down = make_settings(
        temporal_address="127.0.0.1:1",
        database_url=settings.database_url,
        api_keys=settings.api_keys,
        rpc_timeout_s=2,
    )
    owner_key = key_of(down, "")
    async with (
        serve_api(down, client=None) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {owner_key}"}) as http,
    ):
        for method, path in (("GET", "/v1/jobs"), ("GET", "/v1/jobs/x"), ("POST", "/v1/jobs")):
            response = await http.request(method, path, json=SUMMARIZE)
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "temporal_unavailable"
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).json() == {"status": "ok"}


async def test_database_lost_at_runtime_is_503(
    settings: Settings, dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The API started against a database that then stops: readiness says so, a start that
    must store documents answers 503 `database_unavailable` with a plain message (no SQL, no
    path), and routes that need only Temporal keep working."""
    server = start_embedded(tmp_path / "pg")
    url = server.get_uri()
    try:
        upgrade(url)
        own = settings.model_copy(update={"database_url": SecretStr(url)})
        owner_key = key_of(own, "")
        async with (
            serve_api(own, dev_env.client) as api_url,
            httpx.AsyncClient(
                base_url=api_url, headers={"Authorization": f"Bearer {owner_key}"}
            ) as http,
        ):
            assert (await http.get("/readyz")).status_code == 200
            server.cleanup()  # stops it
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["code"] == "database_unavailable"
            agent = {
                "type": "agent",
                "input": {
                    "goal": "g",
                    "tools": ["search_documents"],
                    "documents": [{"name": "a.md", "text": "Some text."}],
                },
            }
            response = await http.post("/v1/jobs", json=agent)
            assert response.status_code == 503
            body = response.json()
            assert body["code"] == "database_unavailable"
            assert str(tmp_path) not in body["message"]
            assert response.headers["retry-after"] == "2"
            assert (await http.get("/v1/jobs")).status_code == 200
            # An answer is a 503 at once: the job could not move on from it meanwhile.
            asked = time.monotonic()
            answer = await http.post(
                "/v1/jobs/job-0/input", json={"name": "review", "value": {"decision": "approve"}}
            )
            assert (answer.status_code, answer.json()["code"]) == (503, "database_unavailable")
            assert time.monotonic() - asked < PING_TIMEOUT_S + 1
    finally:
        server.cleanup()


async def test_every_error_has_one_shape(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """400, 404, 405 and a 500 all answer {code, message, request_id}; 405 lists every method
    the path serves; a 500 quotes the request id and nothing of the failure."""
    not_json = await api.alice.post(
        "/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    unknown = await api.alice.get("/v1/nowhere")
    wrong_method = await api.alice.delete("/v1/jobs")
    for response, status, code in (
        (not_json, 422, "invalid_input"),
        (unknown, 404, "not_found"),
        (wrong_method, 405, "method_not_allowed"),
    ):
        assert response.status_code == status, response.text
        body = response.json()
        assert body["code"] == code
        assert body["message"]
        assert body["request_id"] == response.headers["x-request-id"]
    assert wrong_method.headers["allow"] == "GET, POST"

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internals at /srv/aijobs")

    monkeypatch.setattr(JobService, "list", broken)
    failed = await api.alice.get("/v1/jobs")
    assert failed.status_code == 500
    body = failed.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == failed.headers["x-request-id"]
    assert "secret" not in failed.text


async def test_a_body_sent_without_the_json_content_type_is_415_saying_so(api: Api) -> None:
    """A JSON body with no Content-Type (or a form's) is refused with 415 and a message that
    says to send JSON, not with a pydantic error about dictionaries."""
    body = b'{"type": "summarize", "input": {"text": "Hello there."}}'
    for headers in ({}, {"Content-Type": "application/x-www-form-urlencoded"}):
        response = await api.alice.post("/v1/jobs", content=body, headers=headers)
        assert response.status_code == 415, response.text
        assert "Content-Type: application/json" in response.json()["message"]
    sent = await api.alice.post(
        "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert sent.status_code == 202, sent.text
