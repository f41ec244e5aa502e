"""Jobs over HTTP against the dev server: start, read, list, cancel, idempotency, failures."""

from __future__ import annotations

import threading
from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually


async def test_summarize_job_runs_to_completion(
    api: Api, fake_openai: FakeOpenAI, dev_env: WorkflowEnvironment
) -> None:
    """POST starts a job (202 with links), GET reports it completed with the model's summary."""
    fake_openai.script(Reply.ok("Two sentences, summarized."))
    response = await api.alice.post("/v1/jobs", json=SUMMARIZE)
    assert response.status_code == 202
    created = response.json()
    assert created["type"] == "summarize"
    assert created["status"] == "running"
    assert response.headers["location"] == created["links"]["self"] == f"/v1/jobs/{created['id']}"
    assert created["links"]["ui"].startswith(
        f"http://localhost:8233/namespaces/default/workflows/{created['id']}/"
    )
    job = await wait_for(api.alice, created["id"], "completed")
    assert job["result"]["summary"] == "Two sentences, summarized."
    assert job["result"]["chunk_count"] == 1
    assert job["result"]["model"] == "fake-model"
    assert job["result"]["usage"]["llm_calls"] == 1
    assert job["error"] is None
    assert job["closed_at"] >= job["created_at"]
    described = await dev_env.client.get_workflow_handle(created["id"]).describe()
    summary = await described.static_summary()
    assert summary is not None
    assert summary.startswith("summarize job for alice-")


async def test_running_job_reports_progress(api: Api, fake_openai: FakeOpenAI) -> None:
    """While calls are held, GET shows `running` with the workflow's progress; once it
    completes, GET still shows the final progress (from the memo, no worker needed)."""
    gate = threading.Event()
    fake_openai.responder = lambda request: Reply.held(gate, "held")
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(3))
    job_id = await start_job(
        api.alice, {"type": "summarize", "input": {"text": text, "chunk_chars": 200}}
    )
    job = await eventually(
        lambda: _get(api, job_id),
        # Three chunks and the one combine call planned for them.
        until=lambda j: j["progress"] is not None and j["progress"]["total"] == 3 + 1,
        what="progress with three chunks and a combine",
    )
    assert job["status"] == "running"
    assert job["progress"]["stage"] == "summarizing"
    assert job["result"] is None
    gate.set()
    done = await wait_for(api.alice, job_id, "completed")
    # A completed job keeps its final progress.
    final = done["progress"]
    assert (final["stage"], final["completed"], final["total"]) == ("done", 4, 4)


async def _get(api: Api, job_id: str) -> dict[str, Any]:
    response = await api.alice.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_failed_job_reports_readable_error(api: Api, fake_openai: FakeOpenAI) -> None:
    """A permanent model error fails the job; `error` has the type and message, no traceback."""
    fake_openai.script(Reply.error(401, "Incorrect API key provided"))
    job_id = await start_job(api.alice)
    job = await wait_for(api.alice, job_id, "failed")
    assert job["error"]["type"] == "AuthenticationFailed"
    assert "Incorrect API key provided" in job["error"]["message"]
    assert "Traceback" not in str(job)
    assert job["result"] is None


async def test_cancel_running_job(api: Api, fake_openai: FakeOpenAI) -> None:
    """Cancel answers 202, the job ends `cancelled`; a second cancel is a 409."""
    gate = threading.Event()
    fake_openai.responder = lambda request: Reply.held(gate, "held")
    job_id = await start_job(api.alice)
    await eventually(lambda: _requests(fake_openai), what="the call in flight")
    response = await api.alice.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.json() == {"id": job_id, "cancel_requested": True}
    job = await wait_for(api.alice, job_id, "cancelled")
    gate.set()
    assert job["error"]["type"] == "Cancelled"
    again = await api.alice.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["message"] == f"job {job_id!r} is already cancelled"


async def _requests(fake: FakeOpenAI) -> int:
    return len(fake.requests)


async def test_idempotency_key_replays_or_conflicts(api: Api) -> None:
    """Same key and body return the same job (200); another body is 409; keys are per owner."""
    headers = {"Idempotency-Key": "order-42"}
    first = await api.alice.post("/v1/jobs", json=SUMMARIZE, headers=headers)
    assert first.status_code == 202
    replay = await api.alice.post("/v1/jobs", json=SUMMARIZE, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    other_body = {"type": "summarize", "input": {"text": "Something else entirely."}}
    clash = await api.alice.post("/v1/jobs", json=other_body, headers=headers)
    assert clash.status_code == 409
    assert "Idempotency-Key" in clash.json()["message"]
    bobs = await api.bob.post("/v1/jobs", json=SUMMARIZE, headers=headers)
    assert bobs.status_code == 202
    assert bobs.json()["id"] != first.json()["id"]
    await wait_for(api.alice, first.json()["id"], "completed")
    after_close = await api.alice.post("/v1/jobs", json=SUMMARIZE, headers=headers)
    assert after_close.status_code == 200
    assert after_close.json()["status"] == "completed"


async def test_list_own_jobs_with_filters_and_pages(api: Api, fake_openai: FakeOpenAI) -> None:
    """GET /v1/jobs lists only the caller's jobs, filters by status and type, and pages."""
    ids = {await start_job(api.alice) for _ in range(3)}
    bobs = await start_job(api.bob)
    for job_id in ids:
        await wait_for(api.alice, job_id, "completed")

    async def listed() -> set[str]:
        response = await api.alice.get("/v1/jobs", params={"status": "completed"})
        assert response.status_code == 200
        return {job["id"] for job in response.json()["jobs"]}

    assert await eventually(listed, until=lambda found: found == ids, what="three jobs listed")
    seen: list[str] = []
    token: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "type": "summarize"}
        if token:
            params["page_token"] = token
        page = (await api.alice.get("/v1/jobs", params=params)).json()
        assert len(page["jobs"]) <= 2
        seen += [job["id"] for job in page["jobs"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)
    assert bobs not in seen
    running = await api.alice.get("/v1/jobs", params={"status": "running"})
    assert running.json()["jobs"] == []


async def test_job_types_list_each_type_with_schema(api: Api) -> None:
    """GET /v1/job-types names each type with its input JSON schema."""
    response = await api.alice.get("/v1/job-types")
    assert response.status_code == 200
    types = {t["name"]: t for t in response.json()}
    assert set(types) == {
        "summarize",
        "draft_review",
        "agent",
        "extract",
        "classify",
        "ingest",
        "answer",
    }
    assert types["extract"]["input_schema"]["required"] == ["documents", "schema"]
    summarize = types["summarize"]
    assert summarize["input_schema"]["required"] == ["text"]
    assert summarize["input_schema"]["properties"]["max_words"]["default"] == 150


async def test_a_replay_survives_a_new_fallback_chain(api: Api, settings: Settings) -> None:
    """The replay check compares what the caller sent: after the operator adds a fallback for
    the job's model, the same request with the same key is still a 200 replay, not a 409."""
    body = {"type": "summarize", "input": {"text": "Replay me."}}
    headers = {"Idempotency-Key": "fallback-change"}
    first = await api.alice.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == 202
    settings.fallback_models = {"fake-model": ["backup-model"]}
    again = await api.alice.post("/v1/jobs", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
