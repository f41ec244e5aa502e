"""Job events at scale against the dev server: many watchers, long streams, API restarts and
retention, none of which may cost Temporal anything or lose a reviewer's answer."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from store import Stores
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api
from tests.support.api_server import serve_api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.sse import Received, collect, events

DRAFT = {"type": "draft_review", "input": {"brief": "Announce the new office hours."}}
# Anything a watcher could add to a job's history.
WATCHER_TRACES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
}


async def _watch(client: httpx.AsyncClient, job_id: str, seen: list[Received]) -> None:
    async for event in events(client, job_id):
        seen.append(event)


async def test_an_answer_lands_in_under_two_seconds_with_fifty_watchers(
    api: Api, fake_openai: FakeOpenAI, dev_env: WorkflowEnvironment
) -> None:
    """Fifty open streams on a waiting job neither block nor slow the reviewer's answer, and
    every one of them sees the job end."""
    job_id = await start_job(api.alice, DRAFT)
    await wait_for(api.alice, job_id, "waiting_for_input")
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(
        base_url=api.url, headers=dict(api.alice.headers), limits=limits, timeout=30
    ) as watchers:
        seen: list[list[Received]] = [[] for _ in range(50)]
        tasks = [asyncio.create_task(_watch(watchers, job_id, s)) for s in seen]

        async def all_see_the_question() -> bool:
            return all(any(e.event == "waiting_for_input" for e in s) for s in seen)

        await eventually(all_see_the_question, timeout_s=20, what="50 watchers connected")
        started = time.monotonic()
        answered = await api.alice.post(
            f"/v1/jobs/{job_id}/input",
            json={"name": "review", "value": {"decision": "approve"}},
        )
        elapsed = time.monotonic() - started
        assert answered.status_code == 200, answered.text
        assert elapsed < 2.0, f"the answer took {elapsed:.2f}s with 50 watchers"
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert all(s[-1].event == "completed" for s in seen)
    history = await dev_env.client.get_workflow_handle(job_id).fetch_history()
    updates = [e for e in history.events if e.event_type in WATCHER_TRACES]
    assert len(updates) <= 3, "only the answer itself may appear in history"


async def test_twenty_thousand_tokens_reach_three_watchers_and_history_stays_small(
    api: Api, fake_openai: FakeOpenAI, dev_env: WorkflowEnvironment
) -> None:
    """A call streaming 20,000 tokens reaches each of three watchers whole and in order, and
    the job's history holds fewer than 100 events, none of them a signal or an Update."""
    answer = " ".join(str(i) for i in range(20_000))
    fake_openai.script(Reply.ok(answer, delay_s=4.0))
    job_id = await start_job(api.alice)
    results = await asyncio.wait_for(
        asyncio.gather(*(collect(api.alice, job_id) for _ in range(3))), timeout=120
    )
    for seen in results:
        assert "".join(e.data["text"] for e in seen if e.event == "token") == answer
        ids = [int(e.id) for e in seen]
        assert ids == sorted(set(ids))
        assert seen[-1].event == "completed"
    history = await dev_env.client.get_workflow_handle(job_id).fetch_history()
    assert len(history.events) < 100
    assert not [e for e in history.events if e.event_type in WATCHER_TRACES]
    # And a call may stream for half an hour before Temporal would call it hung.
    [scheduled] = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled.start_to_close_timeout.ToTimedelta() >= timedelta(minutes=30)


async def test_a_restarted_api_resumes_by_last_event_id(
    api: Api, fake_openai: FakeOpenAI, settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    """Offsets live in the database: a client that read from one API process resumes on a new
    one with no gap and no duplicate."""
    fake_openai.script(Reply.ok(" ".join(f"w{i}" for i in range(60)), delay_s=3.0))
    job_id = await start_job(api.alice)
    headers = dict(api.alice.headers)
    first: list[Received] = []
    async with (
        serve_api(settings, dev_env.client) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as client,
    ):
        async for event in events(client, job_id):
            first.append(event)
            if len(first) == 5:
                break
    async with (
        serve_api(settings, dev_env.client) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as client,
    ):
        rest = await collect(client, job_id, headers={"Last-Event-ID": first[-1].id})
        everything = await collect(client, job_id)
    assert [e.id for e in first + rest] == [e.id for e in everything]
    assert rest[-1].event == "completed"


async def test_a_resume_behind_retention_is_told_where_it_continues(
    api: Api, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """Once retention removed a job's tokens, a client resuming before them first receives
    `truncated` naming the offset it continues from, then the rest, never a silent gap."""
    fake_openai.script(Reply.ok(" ".join(f"w{i}" for i in range(30)), delay_s=0.5))
    job_id = await start_job(api.alice)
    await wait_for(api.alice, job_id, "completed")
    before = await collect(api.alice, job_id)
    token_ids = [int(e.id) for e in before if e.event == "token"]
    now = datetime.now(UTC)
    more = True
    while more:
        _, more = await stores.events.trim(now - timedelta(days=7), now + timedelta(seconds=1))

    resumed = await collect(api.alice, job_id, headers={"Last-Event-ID": "0"})

    notice = resumed[0]
    assert notice.event == "truncated"
    assert notice.data["removed_through"] == max(token_ids)
    after = resumed[1:]
    assert int(after[0].id) == notice.data["continues_from"]
    assert [e.id for e in after] == [e.id for e in before if e.event != "token" and int(e.id) > 0]
    assert after[-1].event == "completed"
    # Resuming after the hole needs no notice.
    tail = await collect(api.alice, job_id, headers={"Last-Event-ID": str(max(token_ids))})
    assert tail[0].event != "truncated"


async def test_watchers_of_a_stranger_job_get_404_from_the_log(api: Api) -> None:
    """The owner recorded with the job's log decides: another owner gets 404."""
    job_id = await start_job(api.alice, SUMMARIZE)
    response = await api.bob.get(f"/v1/jobs/{job_id}/events")
    assert response.status_code == 404
