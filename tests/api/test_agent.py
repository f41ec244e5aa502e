"""An agent job over HTTP: it asks before a side effect, takes the approval, and answers."""

from __future__ import annotations

from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply

AGENT = {
    "type": "agent",
    "input": {"goal": "File a ticket about the printer.", "tools": ["calculator", "create_ticket"]},
}


async def test_agent_asks_before_a_ticket_and_answers(api: Api, fake_openai: FakeOpenAI) -> None:
    """waiting_for_input with the proposed arguments; approval by POST; answered with a trail."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "Printer", "body": "Jammed again."})),
        Reply.ok("Filed."),
    )
    job_id = await start_job(api.alice, AGENT)
    job = await wait_for(api.alice, job_id, "waiting_for_input")
    assert job["waiting_for"]["name"] == "approval"
    assert "create_ticket" in job["waiting_for"]["prompt"]
    assert job["progress"]["stage"] == "waiting_for_approval"
    response = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "approval", "value": {"decision": "allow"}}
    )
    assert response.status_code == 200
    done = await wait_for(api.alice, job_id, "completed")
    result = done["result"]
    assert (result["outcome"], result["answer"]) == ("answered", "Filed.")
    [step] = result["steps"]
    assert step["tool"] == "create_ticket"
    assert step["approved_by"].startswith("alice-")
    assert step["arguments"] == {"title": "Printer", "body": "Jammed again.", "priority": "normal"}


async def test_agent_input_is_validated(api: Api) -> None:
    """Unknown tools and out-of-range budgets are 422s naming the field."""
    for job_input, loc in (
        ({"goal": "g", "tools": ["shell"]}, ["body", "input", "tools"]),
        ({"goal": "g", "max_steps": 0}, ["body", "input", "max_steps"]),
        (
            {"goal": "g", "tools": ["calculator"], "preapproved_tools": ["create_ticket"]},
            ["body", "input"],
        ),
    ):
        response = await api.alice.post("/v1/jobs", json={"type": "agent", "input": job_input})
        assert response.status_code == 422, job_input
        assert [e["loc"] for e in response.json()["detail"]] == [loc]
