"""Human input over HTTP: a draft_review job waits, shows what it needs, and takes an answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.temporal import JOB_WAITING_FOR
from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api, key_of
from tests.support.api_server import serve_api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.temporal import binary
from worker import build_worker

DRAFT = {"type": "draft_review", "input": {"brief": "Announce the new office hours."}}


async def waiting_job(api: Api) -> str:
    job_id = await start_job(api.alice, DRAFT)
    await wait_for(api.alice, job_id, "waiting_for_input")
    return job_id


async def test_waiting_job_shows_its_question(api: Api, fake_openai: FakeOpenAI) -> None:
    """While waiting, status says so and `waiting_for` has name, prompt, schema and deadline."""
    job_id = await waiting_job(api)
    job = (await api.alice.get(f"/v1/jobs/{job_id}")).json()
    waiting = job["waiting_for"]
    assert waiting["name"] == "review"
    assert "approve" in waiting["prompt"]
    assert set(waiting["schema"]["properties"]) == {"decision", "feedback", "edited_text"}
    assert waiting["deadline"] > job["created_at"]
    # The reviewer reads the draft itself from the job, for the whole wait.
    draft = fake_openai.completed[0]
    assert waiting["context"]["draft"].startswith("Summary: ")
    assert waiting["context"]["draft"] == f"Summary: {' '.join(draft.user_text.split()[:8])}"
    assert (waiting["context"]["round"], waiting["context"]["max_rounds"]) == (1, 3)
    assert waiting["id"].startswith("review-")
    assert job["progress"]["stage"] == "waiting_for_review"


async def test_answer_completes_the_job_with_an_audit_trail(
    api: Api, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """200 with the recorded answer; the job publishes once and records who approved."""
    fake_openai.script(Reply.ok("Office hours are now 9 to 5."))
    job_id = await waiting_job(api)
    response = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "review", "value": {"decision": "approve"}}
    )
    assert response.status_code == 200, response.text
    accepted = response.json()
    assert accepted["value"] == {"decision": "approve", "feedback": None, "edited_text": None}
    assert accepted["answered_by"].startswith("alice-")
    job = await wait_for(api.alice, job_id, "completed")
    assert job["waiting_for"] is None
    result = job["result"]
    assert result["outcome"] == "published"
    assert result["rounds"][0]["reviewed"]["answered_by"] == accepted["answered_by"]
    assert result["rounds"][0]["reviewed"]["via"] == "api"
    entries = await stores.outbox.entries(job_id)
    assert [text for _, _, text in entries] == ["Office hours are now 9 to 5."]


@pytest.mark.parametrize(
    ("value", "loc"),
    [
        ({"decision": "maybe"}, ["body", "value", "decision"]),
        ({"decision": "revise"}, ["body", "value"]),
        ({"decision": "approve", "colour": "red"}, ["body", "value", "colour"]),
    ],
)
async def test_answer_that_does_not_fit_is_422(
    api: Api, value: dict[str, Any], loc: list[str]
) -> None:
    """Field errors from the job's own schema; the job keeps waiting."""
    job_id = await waiting_job(api)
    response = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "review", "value": value}
    )
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [loc]
    assert (await api.alice.get(f"/v1/jobs/{job_id}")).json()["status"] == "waiting_for_input"


async def test_wrong_name_or_state_is_409(api: Api) -> None:
    """Answering a question the job is not asking, a closed job, or a job that takes no input."""
    job_id = await waiting_job(api)
    wrong = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "budget", "value": {"decision": "approve"}}
    )
    assert wrong.status_code == 409
    assert wrong.json()["message"] == "the job is waiting for 'review', not 'budget'"
    await api.alice.post(f"/v1/jobs/{job_id}/cancel")
    await wait_for(api.alice, job_id, "cancelled")
    closed = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "review", "value": {"decision": "approve"}}
    )
    assert closed.status_code == 409
    summarize = await start_job(api.alice)
    no_input = await api.alice.post(
        f"/v1/jobs/{summarize}/input", json={"name": "review", "value": {}}
    )
    assert no_input.status_code == 409
    assert no_input.json()["message"] == f"job {summarize!r} takes no input"


async def test_strangers_and_unknown_jobs_are_404(api: Api) -> None:
    """Bob cannot answer Alice's question, and learns nothing from trying."""
    job_id = await waiting_job(api)
    body = {"name": "review", "value": {"decision": "approve"}}
    assert (await api.bob.post(f"/v1/jobs/{job_id}/input", json=body)).status_code == 404
    assert (await api.alice.post("/v1/jobs/job-nope/input", json=body)).status_code == 404
    assert (await api.alice.get(f"/v1/jobs/{job_id}")).json()["status"] == "waiting_for_input"


async def test_malformed_input_body_is_422(api: Api) -> None:
    """The envelope is validated like every other body."""
    job_id = await waiting_job(api)
    bodies: list[dict[str, Any]] = [
        {"name": "review"},
        {"value": {}},
        {"name": "", "value": {}},
        {"name": "r", "value": []},
    ]
    for body in bodies:
        response = await api.alice.post(f"/v1/jobs/{job_id}/input", json=body)
        assert response.status_code == 422, body


async def test_waiting_jobs_are_listed_by_status(api: Api) -> None:
    """`status=waiting_for_input` lists jobs that wait for a person; `running` leaves them out."""
    job_id = await waiting_job(api)

    async def listed(status: str) -> list[str]:
        page = (await api.alice.get("/v1/jobs", params={"status": status})).json()
        return [job["id"] for job in page["jobs"]]

    assert await eventually(lambda: listed("waiting_for_input"), until=lambda ids: job_id in ids)
    assert job_id not in await listed("running")


async def test_cli_signal_answers_the_job(api: Api, dev_env: WorkflowEnvironment) -> None:
    """The manual's `temporal workflow signal` command answers the job, recorded as `cli`."""
    job_id = await waiting_job(api)
    answer = {"name": "review", "value": {"decision": "reject"}, "answered_by": "cli"}
    cli = await asyncio.create_subprocess_exec(
        binary("temporal"),
        "workflow",
        "signal",
        "--address",
        dev_env.client.service_client.config.target_host,
        "--workflow-id",
        job_id,
        "--name",
        "answer",
        "--input",
        json.dumps(answer),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(cli.communicate(), timeout=30)
    assert cli.returncode == 0, output.decode()
    job = await wait_for(api.alice, job_id, "completed")
    reviewed = job["result"]["rounds"][0]["reviewed"]
    assert (reviewed["answered_by"], reviewed["via"]) == ("cli", "signal")
    assert job["result"]["outcome"] == "rejected"


async def test_no_worker_means_504_not_a_hang(
    settings: Settings, dev_env: WorkflowEnvironment, stores: Stores
) -> None:
    """With no worker polling, the answer times out with a plain 504 instead of hanging."""
    settings.input_timeout_s = 1.0
    headers = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
    async with (
        serve_api(settings, dev_env.client) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as http,
    ):
        async with build_worker(settings, dev_env.client, stores):
            job_id = await start_job(http, DRAFT)
            await wait_for(http, job_id, "waiting_for_input")
        response = await http.post(
            f"/v1/jobs/{job_id}/input", json={"name": "review", "value": {"decision": "approve"}}
        )
        assert response.status_code == 504
        assert response.json()["code"] == "worker_timeout"
        assert "read the job before sending it again" in response.json()["message"]


async def test_an_answer_to_a_question_no_longer_pending_is_409(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """After round 1's review, round 2 asks a new question (a new id): replaying the round-1
    answer by its question id is refused, never applied to round 2."""
    fake_openai.script(Reply.ok("First draft."), Reply.ok("Second draft."))
    job_id = await waiting_job(api)
    first = (await api.alice.get(f"/v1/jobs/{job_id}")).json()["waiting_for"]["id"]
    revise = {"name": "review", "value": {"decision": "revise", "feedback": "Shorter."}}
    answered = await api.alice.post(f"/v1/jobs/{job_id}/input", json=revise)
    assert answered.status_code == 200
    assert answered.json()["question_id"] == first

    async def next_question() -> str | None:
        job = (await api.alice.get(f"/v1/jobs/{job_id}")).json()
        return (job.get("waiting_for") or {}).get("id")

    second = await eventually(next_question, until=lambda q: q not in (None, first))
    stale = await api.alice.post(f"/v1/jobs/{job_id}/input", json={**revise, "question_id": first})
    assert stale.status_code == 409
    assert "no longer pending" in stale.json()["message"]
    job = (await api.alice.get(f"/v1/jobs/{job_id}")).json()
    assert (job["waiting_for"]["id"], job["waiting_for"]["context"]["draft"]) == (
        second,
        "Second draft.",
    )


async def test_a_jobs_created_at_is_when_it_started_whatever_runs_followed(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """A revision continues the job as new (a new run, a new run start time); the job's
    `created_at`, read and listed, stays when the job was started."""
    fake_openai.script(Reply.ok("First draft."), Reply.ok("Second draft."))
    job_id = await waiting_job(api)
    before = (await api.alice.get(f"/v1/jobs/{job_id}")).json()
    revise = {"name": "review", "value": {"decision": "revise", "feedback": "Shorter."}}
    assert (await api.alice.post(f"/v1/jobs/{job_id}/input", json=revise)).status_code == 200

    async def second_round() -> dict[str, Any]:
        job: dict[str, Any] = (await api.alice.get(f"/v1/jobs/{job_id}")).json()
        return job

    after = await eventually(
        second_round,
        until=lambda job: (job.get("waiting_for") or {}).get("context", {}).get("round") == 2,
    )
    assert after["created_at"] == before["created_at"]
    listed = (await api.alice.get("/v1/jobs", params={"type": "draft_review"})).json()["jobs"]
    assert next(j for j in listed if j["id"] == job_id)["created_at"] == before["created_at"]


async def test_a_cancelled_job_stops_being_listed_as_waiting(
    api: Api, dev_env: WorkflowEnvironment
) -> None:
    """Cancelling a waiting job clears JobWaitingFor, so the UI's `JobWaitingFor IS NOT NULL`
    and `?status=waiting_for_input` list only jobs that really wait."""
    job_id = await waiting_job(api)
    assert (await api.alice.post(f"/v1/jobs/{job_id}/cancel")).status_code == 202
    await wait_for(api.alice, job_id, "cancelled")
    described = await dev_env.client.get_workflow_handle(job_id).describe()
    assert described.typed_search_attributes.get(JOB_WAITING_FOR) is None

    async def waiting_ids() -> list[str]:
        page = await api.alice.get("/v1/jobs", params={"status": "waiting_for_input"})
        return [j["id"] for j in page.json()["jobs"]]

    await eventually(waiting_ids, until=lambda ids: job_id not in ids, what="visibility updated")
