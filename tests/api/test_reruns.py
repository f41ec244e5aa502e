"""Reruns from a step over HTTP: what is reused, what runs again, lineage and refusals."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text as sql

from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.sse import collect

# Six paragraphs of about 90 characters: three chunks of 200 characters, one combine.
TEXT = "\n\n".join(
    f"Paragraph {i} opens here. It has a second sentence about topic {i}, told at some length."
    for i in range(6)
)
SUMMARIZE: dict[str, Any] = {
    "type": "summarize",
    "input": {"text": TEXT, "chunk_chars": 200, "max_words": 50},
}


async def steps_of(client: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/jobs/{job_id}/steps")
    assert response.status_code == 200, response.text
    steps: list[dict[str, Any]] = response.json()["steps"]
    return steps


async def rerun(client: httpx.AsyncClient, job_id: str, body: dict[str, Any]) -> str:
    response = await client.post(f"/v1/jobs/{job_id}/rerun", json=body)
    assert response.status_code == 202, response.text
    new_id: str = response.json()["id"]
    return new_id


async def test_a_summary_rerun_from_its_combine_step_asks_only_that_step(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """Every chunk call is taken from the parent as it was; the model sees one combine call,
    asking for the new length; lineage reads both ways."""
    parent = await start_job(api.alice, SUMMARIZE)
    await wait_for(api.alice, parent, "completed")
    steps = await steps_of(api.alice, parent)
    assert [s["name"] for s in steps] == ["chunk-1", "chunk-2", "chunk-3", "combine-1-1"]
    assert {s["source"] for s in steps} == {"model"}
    assert all(s["kind"] == "chat" and s["input_tokens"] > 0 for s in steps)
    asked_before = len(fake_openai.requests)

    child = await rerun(api.alice, parent, {"from_step": "combine-1-1", "input": {"max_words": 30}})
    done = await wait_for(api.alice, child, "completed")
    asked = fake_openai.requests[asked_before:]
    assert len(asked) == 1
    assert "Combine" in asked[0].system_text
    assert "at most 30 words" in asked[0].system_text
    usage = done["result"]["usage"]
    assert (usage["reused"], usage["llm_calls"]) == (3, 1)
    assert usage["saved_cost_usd"] >= 0
    assert [s["source"] for s in await steps_of(api.alice, child)] == [
        "parent",
        "parent",
        "parent",
        "model",
    ]
    completed = [e.data for e in await collect(api.alice, child) if e.event == "step_completed"]
    assert sorted(e["source"] for e in completed) == ["model", "parent", "parent", "parent"]
    assert (done["parent"], done["rerun_from"]) == (parent, "combine-1-1")
    assert (await wait_for(api.alice, parent, "completed"))["reruns"] == [child]


async def test_a_rerun_without_a_step_reuses_while_identical(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """Unchanged input: every step is the parent's and the model is never asked. A changed
    chunk size changes the first chunk's request, so everything from there runs fresh."""
    parent = await start_job(api.alice, SUMMARIZE)
    first = await wait_for(api.alice, parent, "completed")
    asked_before = len(fake_openai.requests)
    same = await wait_for(api.alice, await rerun(api.alice, parent, {}), "completed")
    assert len(fake_openai.requests) == asked_before
    assert same["result"]["summary"] == first["result"]["summary"]
    assert same["rerun_from"] is None

    changed = await rerun(api.alice, parent, {"input": {"chunk_chars": 300}})
    await wait_for(api.alice, changed, "completed")
    assert {s["source"] for s in await steps_of(api.alice, changed)} == {"model"}
    assert len(fake_openai.requests) > asked_before


async def test_an_agent_rerun_from_its_last_step_files_no_second_ticket(
    api: Api, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """The ticket the parent created is not created again: the rerun receives the parent's
    tool result, and the model is asked only for the last step."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "Printer", "body": "Jammed again."})),
        Reply.ok("Filed."),
    )
    body = {
        "type": "agent",
        "input": {
            "goal": "File a ticket about the printer.",
            "tools": ["create_ticket"],
            "preapproved_tools": ["create_ticket"],
        },
    }
    parent = await start_job(api.alice, body)
    await wait_for(api.alice, parent, "completed")
    names = [s["name"] for s in await steps_of(api.alice, parent)]
    assert names == ["agent-1", "tool-1-call_0", "agent-2"]
    asked_before = len(fake_openai.requests)
    fake_openai.script(Reply.ok("Filed, and noted."))

    child = await rerun(api.alice, parent, {"from_step": "agent-2"})
    done = await wait_for(api.alice, child, "completed")
    assert done["result"]["answer"] == "Filed, and noted."
    assert len(fake_openai.requests) == asked_before + 1
    assert len(await stores.tickets.for_job(parent)) == 1
    assert await stores.tickets.for_job(child) == []
    sources = {s["name"]: s["source"] for s in await steps_of(api.alice, child)}
    assert sources == {"agent-1": "parent", "tool-1-call_0": "parent", "agent-2": "model"}


async def test_reuse_answers_skips_a_review_the_parent_received(api: Api) -> None:
    """A draft review revised once, then approved: a rerun from the second draft with
    `reuse_answers` takes the first review as it was and asks only about the new draft."""
    body = {"type": "draft_review", "input": {"brief": "Announce the picnic.", "max_rounds": 2}}
    parent = await start_job(api.alice, body)
    for value in ({"decision": "revise", "feedback": "Shorter."}, {"decision": "approve"}):
        await wait_for(api.alice, parent, "waiting_for_input")
        answer = {"name": "review", "value": value}
        response = await api.alice.post(f"/v1/jobs/{parent}/input", json=answer)
        assert response.status_code == 200, response.text
    await wait_for(api.alice, parent, "completed")
    assert [s["name"] for s in await steps_of(api.alice, parent)] == [
        "draft-1",
        "review-1",
        "draft-2",
        "review-2",
        "publish-2",
    ]

    child = await rerun(api.alice, parent, {"from_step": "draft-2", "reuse_answers": True})
    waiting = (await wait_for(api.alice, child, "waiting_for_input"))["waiting_for"]
    assert waiting["context"]["round"] == 2
    assert waiting["context"]["feedback"] == "Shorter."
    response = await api.alice.post(
        f"/v1/jobs/{child}/input", json={"name": "review", "value": {"decision": "reject"}}
    )
    assert response.status_code == 200, response.text
    rounds = (await wait_for(api.alice, child, "completed"))["result"]["rounds"]
    assert [r["reviewed"]["via"] for r in rounds] == ["parent", "api"]

    # Without reuse_answers the first review is asked again.
    again = await rerun(api.alice, parent, {"from_step": "draft-2"})
    waiting = (await wait_for(api.alice, again, "waiting_for_input"))["waiting_for"]
    assert waiting["context"]["round"] == 1


async def test_an_identical_rerun_of_an_approved_review_publishes_nothing_twice(
    api: Api, stores: Stores
) -> None:
    """The draft, its approval and its publication are all the parent's: one outbox row."""
    body = {"type": "draft_review", "input": {"brief": "Announce the quiz."}}
    parent = await start_job(api.alice, body)
    await wait_for(api.alice, parent, "waiting_for_input")
    answer = {"name": "review", "value": {"decision": "approve"}}
    assert (await api.alice.post(f"/v1/jobs/{parent}/input", json=answer)).status_code == 200
    published = (await wait_for(api.alice, parent, "completed"))["result"]["publish"]
    child = await rerun(api.alice, parent, {"reuse_answers": True})
    done = await wait_for(api.alice, child, "completed")
    assert done["result"]["publish"] == published
    async with stores.engine.connect() as conn:
        rows = await conn.execute(
            sql("SELECT count(*) FROM outbox WHERE job_id IN (:a, :b)"), {"a": parent, "b": child}
        )
        assert rows.scalar_one() == 1


async def test_reruns_are_refused_clearly(api: Api, stores: Stores) -> None:
    """Another owner's job is 404 on every new route; an unknown step is a 422 listing the
    parent's steps; a parent whose records passed retention is a 409 naming the setting; an
    edited input is validated like a start."""
    parent = await start_job(api.alice, SUMMARIZE)
    await wait_for(api.alice, parent, "completed")
    for response in (
        await api.bob.post(f"/v1/jobs/{parent}/rerun", json={}),
        await api.bob.get(f"/v1/jobs/{parent}/steps"),
        await api.bob.get(f"/v1/jobs/{parent}/cassette"),
    ):
        assert response.status_code == 404, response.text

    response = await api.alice.post(f"/v1/jobs/{parent}/rerun", json={"from_step": "nope"})
    assert response.status_code == 422
    assert "chunk-1, chunk-2, chunk-3, combine-1-1" in response.text

    response = await api.alice.post(
        f"/v1/jobs/{parent}/rerun", json={"input": {"max_words": "thirty"}}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "input", "max_words"]

    response = await api.alice.post(
        f"/v1/jobs/{parent}/rerun", json={"options": {"max_cost_usd": -1}}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "options", "max_cost_usd"]

    async with stores.engine.begin() as conn:
        await conn.execute(sql("DELETE FROM job_requests WHERE job_id = :j"), {"j": parent})
    response = await api.alice.post(f"/v1/jobs/{parent}/rerun", json={})
    assert response.status_code == 409
    assert "AIJOBS_JOURNAL_RETENTION_DAYS" in response.json()["message"]


async def test_a_rerun_honours_its_idempotency_key(api: Api) -> None:
    """The same key and body give the same rerun; the same key with another body is a 409."""
    parent = await start_job(api.alice, SUMMARIZE)
    await wait_for(api.alice, parent, "completed")
    headers = {"Idempotency-Key": "rerun-once"}
    url = f"/v1/jobs/{parent}/rerun"
    first = await api.alice.post(url, json={"from_step": "chunk-2"}, headers=headers)
    again = await api.alice.post(url, json={"from_step": "chunk-2"}, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    other = await api.alice.post(url, json={"from_step": "chunk-3"}, headers=headers)
    assert other.status_code == 409
