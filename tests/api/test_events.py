"""Job events over SSE against the dev server: live tokens, resume, replay, filters, errors."""

from __future__ import annotations

import time

from temporalio.testing import WorkflowEnvironment

from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.sse import Received, collect, events

ANSWER = "one two three four five six seven eight nine ten"


async def test_tokens_arrive_while_the_model_is_still_writing(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """The first token reaches the client before the model's reply has finished."""
    fake_openai.script(Reply.ok(ANSWER, delay_s=3.0))
    job_id = await start_job(api.alice)
    seen: list[Received] = []
    first_token_in_flight = None
    async for event in events(api.alice, job_id):
        seen.append(event)
        if event.event == "token" and first_token_in_flight is None:
            first_token_in_flight = fake_openai.in_flight
    assert first_token_in_flight == 1, "no token arrived before the model call ended"
    tokens = [e.data["text"] for e in seen if e.event == "token"]
    assert "".join(tokens) == ANSWER
    assert seen[-1].event == "completed"
    assert seen[-1].data["result"]["summary"] == ANSWER
    ids = [int(e.id) for e in seen]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_reconnecting_with_last_event_id_has_no_gaps_or_duplicates(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """Read a few events, drop the connection, resume from the last id: one clean sequence."""
    fake_openai.script(Reply.ok(ANSWER, delay_s=1.0))
    job_id = await start_job(api.alice)
    first: list[Received] = []
    async for event in events(api.alice, job_id):
        first.append(event)
        if len(first) == 4:
            break
    rest = await collect(api.alice, job_id, headers={"Last-Event-ID": first[-1].id})
    everything = await collect(api.alice, job_id)
    assert [e.id for e in first + rest] == [e.id for e in everything]
    assert rest[-1].event == "completed"
    resumed = await collect(api.alice, job_id, params={"from": first[-1].id})
    assert [e.id for e in resumed] == [e.id for e in rest]


async def test_closed_job_replays_and_ends(api: Api, fake_openai: FakeOpenAI) -> None:
    """After the job is done, the stream replays what it retains and closes by itself."""
    job_id = await start_job(api.alice)
    await wait_for(api.alice, job_id, "completed")
    started = time.monotonic()
    replayed = await collect(api.alice, job_id)
    assert time.monotonic() - started < 10
    kinds = [e.event for e in replayed]
    assert kinds[0] == "stage"
    assert {"token", "step_completed"} <= set(kinds)
    assert kinds[-1] == "completed"


async def test_types_filter_drops_tokens(api: Api, fake_openai: FakeOpenAI) -> None:
    """`?types=` keeps only the named kinds; the stream still ends at the outcome."""
    job_id = await start_job(api.alice)
    kept = await collect(api.alice, job_id, params={"types": "stage,completed"})
    assert {e.event for e in kept} == {"stage", "completed"}
    assert kept[-1].event == "completed"


async def test_failed_job_ends_with_a_failed_event(api: Api, fake_openai: FakeOpenAI) -> None:
    """A permanent model error ends the stream with `failed` and the readable error."""
    fake_openai.script(Reply.error(400, "bad request"))
    job_id = await start_job(api.alice)
    received = await collect(api.alice, job_id)
    assert received[-1].event == "failed"
    assert received[-1].data["error"]["type"] == "InvalidRequest"


async def test_a_terminated_job_ends_the_stream_from_temporals_record(
    api: Api, fake_openai: FakeOpenAI, dev_env: WorkflowEnvironment
) -> None:
    """A job terminated by an operator writes no final event; its watchers still get `failed`
    (from Temporal's record) within seconds, instead of waiting forever."""
    fake_openai.script(Reply.ok(ANSWER, delay_s=60.0))
    job_id = await start_job(api.alice)
    await wait_for(api.alice, job_id, "running")
    await dev_env.client.get_workflow_handle(job_id).terminate("operator says stop")
    started = time.monotonic()
    received = await collect(api.alice, job_id)
    assert time.monotonic() - started < 10
    assert received[-1].event == "failed"
    assert received[-1].data["error"]["type"] == "Terminated"


async def test_stream_route_checks_key_owner_and_input(api: Api) -> None:
    """401 without a key, 404 for a stranger or an unknown job, 422 for unknown types."""
    job_id = await start_job(api.alice, SUMMARIZE)
    assert (await api.anonymous.get(f"/v1/jobs/{job_id}/events")).status_code == 401
    assert (await api.bob.get(f"/v1/jobs/{job_id}/events")).status_code == 404
    assert (await api.alice.get("/v1/jobs/job-nope/events")).status_code == 404
    bad = await api.alice.get(f"/v1/jobs/{job_id}/events", params={"types": "tokens"})
    assert bad.status_code == 422
    bad_id = await api.alice.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "x"})
    assert bad_id.status_code == 422


async def test_stream_is_event_stream(api: Api) -> None:
    """The response is text/event-stream and not buffered by proxies."""
    job_id = await start_job(api.alice)
    async with api.alice.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"


async def test_retry_event_says_why_the_attempt_failed(api: Api, fake_openai: FakeOpenAI) -> None:
    """A transient model error becomes a `retry` event quoting it, then the job completes."""
    fake_openai.script(Reply.error(503, "overloaded", retry_after="0"), Reply.ok("Fine now."))
    job_id = await start_job(api.alice)
    received = await collect(api.alice, job_id)
    [retry] = [e for e in received if e.event == "retry"]
    assert retry.data == {
        "type": "retry",
        "step": "chunk-1",
        "attempt": 2,
        "reason": "ServerError: model server answered 503: overloaded",
    }
    assert received[-1].data["result"]["summary"] == "Fine now."


async def test_only_the_final_summary_streams_tokens(api: Api, fake_openai: FakeOpenAI) -> None:
    """Chunk calls report `step_completed`; tokens come only from the call that writes the end."""
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(3))
    job_id = await start_job(
        api.alice, {"type": "summarize", "input": {"text": text, "chunk_chars": 200}}
    )
    received = await collect(api.alice, job_id)
    assert {e.data["step"] for e in received if e.event == "token"} == {"combine-1-1"}
    completed = [e.data["step"] for e in received if e.event == "step_completed"]
    assert sorted(completed) == ["chunk-1", "chunk-2", "chunk-3", "combine-1-1"]


async def test_stream_follows_continue_as_new(api: Api, fake_openai: FakeOpenAI) -> None:
    """A revision starts a new run; one SSE connection follows it, with ids still increasing."""
    fake_openai.script(Reply.ok("Draft one."), Reply.ok("Draft two."))
    job_id = await start_job(
        api.alice, {"type": "draft_review", "input": {"brief": "Announce the picnic."}}
    )
    received: list[Received] = []
    answers = iter([{"decision": "revise", "feedback": "Add a date."}, {"decision": "approve"}])
    async for event in events(api.alice, job_id):
        received.append(event)
        if event.event == "waiting_for_input":
            response = await api.alice.post(
                f"/v1/jobs/{job_id}/input", json={"name": "review", "value": next(answers)}
            )
            assert response.status_code == 200
    kinds = [e.event for e in received]
    assert kinds.count("waiting_for_input") == kinds.count("input_received") == 2
    drafts = [
        "".join(e.data["text"] for e in received if e.event == "token" and e.data["step"] == s)
        for s in ("draft-1", "draft-2")
    ]
    assert drafts == ["Draft one.", "Draft two."]
    assert kinds[-1] == "completed"
    assert received[-1].data["result"]["outcome"] == "published"
    ids = [int(e.id) for e in received]
    assert ids == sorted(set(ids))
