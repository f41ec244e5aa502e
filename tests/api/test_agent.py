"""An agent job over HTTP: it asks before a side effect, takes the approval, and answers."""

from __future__ import annotations

import json
from typing import Any

from temporalio.testing import WorkflowEnvironment

from core.contracts.tools import Document
from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.temporal import history_text

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
    # A short summary of the arguments, and the call id that finds them whole in the
    # stored conversation.
    assert json.loads(step["arguments"]) == {
        "title": "Printer",
        "body": "Jammed again.",
        "priority": "normal",
    }
    assert step["call_id"] == "call_0"


async def test_documents_are_stored_once_and_the_job_carries_ids(
    api: Api, fake_openai: FakeOpenAI, dev_env: WorkflowEnvironment, stores: Stores
) -> None:
    """The API stores the documents before starting the job: its history holds names and
    ids, never the text, and search_documents still finds it."""
    secret_text = "Refunds are accepted within a thirty day refund window. " * 20
    fake_openai.script(
        Reply.calls(("search_documents", {"query": "refund window"})), Reply.ok("Thirty days.")
    )
    job_input = {
        "goal": "How long is the refund window?",
        "tools": ["search_documents"],
        "documents": [{"name": "policy.md", "text": secret_text}],
    }
    job_id = await start_job(api.alice, {"type": "agent", "input": job_input})
    done = await wait_for(api.alice, job_id, "completed")
    assert done["result"]["answer"] == "Thirty days."
    found = fake_openai.requests[1].body["messages"][-1]["content"]
    assert found.startswith("policy.md: ")
    assert "[refund]" in found
    history = history_text(await dev_env.client.get_workflow_handle(job_id).fetch_history())
    assert "thirty day refund window" not in history
    assert "policy.md" in history
    # Sending the same document again stores nothing new: ids are content digests per owner.
    owner = next(o for o in api.owners if o.startswith("alice-"))
    refs = await stores.documents.put(owner, [Document(name="policy.md", text=secret_text)])
    assert refs[0].id in history


async def test_agent_input_is_validated(api: Api) -> None:
    """Unknown tools, out-of-range budgets and text that cannot be stored are 422s naming
    the field."""
    for job_input, loc in (
        ({"goal": "g", "tools": ["shell"]}, ["body", "input", "tools"]),
        ({"goal": "g", "max_steps": 0}, ["body", "input", "max_steps"]),
        (
            {"goal": "g", "tools": ["calculator"], "preapproved_tools": ["create_ticket"]},
            ["body", "input"],
        ),
        # PostgreSQL cannot store NUL: refused here, not failed later on every retry.
        ({"goal": "hello \u0000 world"}, ["body", "input", "goal"]),
        (
            {"goal": "g", "documents": [{"name": "a.md", "text": "bad \u0000 byte"}]},
            ["body", "input", "documents", 0, "text"],
        ),
    ):
        response = await api.alice.post("/v1/jobs", json={"type": "agent", "input": job_input})
        assert response.status_code == 422, job_input
        assert [e["loc"] for e in response.json()["detail"]] == [loc]


async def test_two_identical_approvals_in_one_run_both_land(
    api: Api, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """The same `{"decision": "allow"}` to two questions is two answers: each has its own
    question id, so the second is not mistaken for a replay of the first."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "First", "body": "One."})),
        Reply.calls(("create_ticket", {"title": "Second", "body": "Two."})),
        Reply.ok("Filed both."),
    )
    job_id = await start_job(api.alice, AGENT)
    allow = {"name": "approval", "value": {"decision": "allow"}}
    seen: list[str] = []
    for title in ("First", "Second"):

        async def question(title: str = title) -> dict[str, Any] | None:
            job = (await api.alice.get(f"/v1/jobs/{job_id}")).json()
            waiting = job.get("waiting_for")
            return (
                waiting if waiting and waiting["context"]["arguments"]["title"] == title else None
            )

        waiting = await eventually(question, what=f"approval of {title}")
        assert waiting is not None
        context = waiting["context"]
        assert (context["tool"], context["arguments"]) == (
            "create_ticket",
            {"title": title, "body": "One." if title == "First" else "Two.", "priority": "normal"},
        )
        assert "preapproved_tools" in context["why"]
        answered = await api.alice.post(f"/v1/jobs/{job_id}/input", json=allow)
        assert answered.status_code == 200, answered.text
        assert answered.json()["question_id"] == waiting["id"]
        seen.append(waiting["id"])
    assert seen[0] != seen[1]
    done = await wait_for(api.alice, job_id, "completed")
    assert done["result"]["outcome"] == "answered"
    assert [s["status"] for s in done["result"]["steps"]] == ["ok", "ok"]
    assert [t for _, t in await stores.tickets.for_job(job_id)] == ["First", "Second"]


async def test_the_readme_walkthrough_runs_on_the_offline_model(api: Api) -> None:
    """Without a key: the offline model searches the policy, proposes the ticket, waits for
    approval, files it once allowed and answers, and every step says `offline`."""
    job_id = await start_job(
        api.alice,
        {
            "type": "agent",
            "input": {
                "goal": "Find our refund window in the policy and file a ticket if it is "
                "under 30 days.",
                "tools": ["search_documents", "calculator", "create_ticket"],
                "documents": [
                    {"name": "policy.md", "text": "Refunds are accepted within 14 days."}
                ],
                "model": "offline",
            },
        },
    )
    job = await wait_for(api.alice, job_id, "waiting_for_input")
    assert job["waiting_for"]["name"] == "approval"
    assert job["waiting_for"]["context"]["tool"] == "create_ticket"
    response = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "approval", "value": {"decision": "allow"}}
    )
    assert response.status_code == 200, response.text
    result = (await wait_for(api.alice, job_id, "completed"))["result"]
    assert result["outcome"] == "answered"
    assert [s["tool"] for s in result["steps"]] == ["search_documents", "create_ticket"]
    assert [s["status"] for s in result["steps"]] == ["ok", "ok"]
    assert {s["model"] for s in result["steps"]} == {"offline"}
    assert "accepted within 14" in result["answer"]
