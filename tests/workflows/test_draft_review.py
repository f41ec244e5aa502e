"""DraftReviewWorkflow on the time-skipping server: reviews by Update and signal, deadlines,
rounds across continue-as-new, restarts while waiting, and a publish that lands once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.contracts.draft_review import DraftReviewResult, DraftReviewRun
from core.contracts.human import Submission, WaitingFor
from core.contracts.publish import PublishReceipt
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.workers import attempted, lost_after_running, other_worker
from worker import build_worker
from workflows.draft_review import DraftReviewWorkflow

Handle = WorkflowHandle[DraftReviewWorkflow, DraftReviewResult]


DEFAULTS: dict[str, Any] = {"brief": "Announce the new office hours."}


async def start(env: WorkflowEnvironment, settings: Settings, **fields: Any) -> Handle:
    return await env.client.start_workflow(
        DraftReviewWorkflow.run,
        DraftReviewRun(**(DEFAULTS | fields)),
        id=f"review-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )


async def waiting(handle: Handle) -> WaitingFor:
    async def probe() -> WaitingFor | None:
        return await handle.query(DraftReviewWorkflow.waiting_for)

    found = await eventually(probe, what="the review question")
    assert found is not None
    return found


async def review(handle: Handle, by: str = "alice", **value: Any) -> None:
    await waiting(handle)
    await handle.execute_update(
        DraftReviewWorkflow.submit_answer,
        Submission(name="review", value=value, answered_by=by),
    )


async def test_approve_publishes_the_draft_once(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """Draft, approval by Update, one outbox entry keyed by workflow id and round."""
    fake_openai.script(Reply.ok("Office hours move to 9-5."))
    handle = await start(ts_env, settings)
    question = await waiting(handle)
    assert question.name == "review"
    assert question.answer_schema["properties"]["decision"]["enum"] == [
        "approve",
        "revise",
        "reject",
    ]
    await review(handle, decision="approve")
    result = await handle.result()
    assert result.outcome == "published"
    assert result.final_text == "Office hours move to 9-5."
    assert result.publish == PublishReceipt(
        idempotency_key=f"{handle.id}/round-1/publish", destination="outbox", duplicate=False
    )
    assert await stores.outbox.entries(handle.id) == [
        (f"{handle.id}/round-1/publish", 1, "Office hours move to 9-5.")
    ]
    [only] = result.rounds
    assert only.reviewed is not None
    assert (only.reviewed.answered_by, only.reviewed.via) == ("alice", "api")


async def test_revise_runs_a_new_round_in_a_new_run(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """Feedback reaches the model; each round is its own run; the trail carries every round."""
    fake_openai.script(Reply.ok("Draft one."), Reply.ok("Draft two."))
    handle = await start(ts_env, settings)
    first_run = (await handle.describe()).run_id
    await review(handle, decision="revise", feedback="Mention the holiday closure.")
    await eventually(
        lambda: _run_id(ts_env, handle.id), until=lambda run: run != first_run, what="new run"
    )
    await review(handle, by="bob", decision="approve", edited_text="Final text, edited.")
    result = await handle.result()
    revision = fake_openai.requests[1].body["messages"]
    assert [m["role"] for m in revision] == ["system", "user", "assistant", "user"]
    assert revision[2]["content"] == "Draft one."
    assert "Mention the holiday closure." in revision[3]["content"]
    assert [r.draft for r in result.rounds] == ["Draft one.", "Draft two."]
    assert [r.review.decision for r in result.rounds if r.review] == ["revise", "approve"]
    assert [r.reviewed.answered_by for r in result.rounds if r.reviewed] == ["alice", "bob"]
    assert result.final_text == "Final text, edited."
    assert await stores.outbox.entries(handle.id) == [
        (f"{handle.id}/round-2/publish", 2, "Final text, edited.")
    ]
    assert result.usage.llm_calls == 2


async def _run_id(env: WorkflowEnvironment, workflow_id: str) -> str:
    return (await env.client.get_workflow_handle(workflow_id).describe()).run_id


async def test_reject_ends_without_publishing(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker, stores: Stores
) -> None:
    """`reject` completes the job with outcome `rejected` and nothing published."""
    handle = await start(ts_env, settings)
    await review(handle, decision="reject", feedback="Not needed.")
    result = await handle.result()
    assert (result.outcome, result.final_text, result.publish) == ("rejected", None, None)
    assert await stores.outbox.entries(handle.id) == []


async def test_max_rounds_stops_the_loop(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """After `max_rounds` revisions the job ends instead of drafting forever."""
    handle = await start(ts_env, settings, max_rounds=2)
    for _ in range(2):
        await review(handle, decision="revise", feedback="Shorter.")
    result = await handle.result()
    assert result.outcome == "max_rounds_reached"
    assert len(result.rounds) == 2


async def test_signal_answers_like_the_temporal_ui(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """A signal with the same JSON is accepted; it records who it says it is, and `via`."""
    handle = await start(ts_env, settings)
    await waiting(handle)
    await handle.signal(
        "answer", {"name": "review", "value": {"decision": "reject"}, "answered_by": "cli"}
    )
    result = await handle.result()
    reviewed = result.rounds[0].reviewed
    assert reviewed is not None
    assert (reviewed.answered_by, reviewed.via) == ("cli", "signal")


async def test_bad_signal_is_ignored_and_the_wait_goes_on(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """A signal that does not fit cannot be refused, so it is dropped and the job still waits."""
    handle = await start(ts_env, settings)
    await waiting(handle)
    await handle.signal("answer", {"name": "review", "value": {"decision": "maybe"}})
    await handle.signal("answer", {"name": "other", "value": {"decision": "approve"}})
    assert (await waiting(handle)).name == "review"
    await review(handle, decision="reject")
    assert (await handle.result()).outcome == "rejected"


async def test_invalid_updates_are_rejected_before_history(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    """Wrong name, bad value and inconsistent value are refused; none is written to history.

    On the dev server: the time-skipping server does not report update rejections."""
    async with build_worker(settings, dev_env.client, stores):
        await _check_rejections(dev_env, settings)


async def _check_rejections(env: WorkflowEnvironment, settings: Settings) -> None:
    handle = await start(env, settings)
    await waiting(handle)
    cases = [
        (Submission(name="approval", value={"decision": "approve"}), "NotWaiting"),
        (Submission(name="review", value={"decision": "maybe"}), "InvalidAnswer"),
        (Submission(name="review", value={"decision": "revise"}), "InvalidAnswer"),
    ]
    for submission, error_type in cases:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(DraftReviewWorkflow.submit_answer, submission)
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == error_type
    history = await handle.fetch_history()
    assert not [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    await review(handle, decision="approve")
    await handle.result()
    history = await handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 1
    with pytest.raises(RPCError, match="already completed"):
        await handle.execute_update(
            DraftReviewWorkflow.submit_answer,
            Submission(name="review", value={"decision": "approve"}),
        )


async def test_review_deadline_fails_the_job(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """With `fail`, a 24-hour deadline passes (in milliseconds here) and the job fails clearly."""
    handle = await start(ts_env, settings, on_review_timeout="fail")
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InputTimeout"
    assert "review" in cause.message


async def test_review_deadline_can_reject_by_default(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """With `reject`, the deadline answers for the reviewer and the trail says so."""
    handle = await start(ts_env, settings, on_review_timeout="reject")
    result = await handle.result()
    assert result.outcome == "rejected"
    reviewed = result.rounds[0].reviewed
    assert reviewed is not None
    assert (reviewed.answered_by, reviewed.via) == ("timeout-policy", "timeout")


async def test_escalation_notifies_then_waits_once_more(
    ts_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> None:
    """With `escalate`, the first deadline notifies a person and a second wait can still succeed;
    a second silence fails the job."""
    answered = await start(ts_env, settings, review_timeout_s=3600)
    await ts_env.sleep(3600 + 60)
    await review(answered, decision="reject")
    assert (await answered.result()).outcome == "rejected"
    assert "notify_person" in await _activities(answered)

    silent = await start(ts_env, settings, review_timeout_s=3600)
    with pytest.raises(WorkflowFailureError) as caught:
        await silent.result()
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "InputTimeout"
    assert "notify_person" in await _activities(silent)


async def test_escalation_survives_a_notify_webhook_outage(
    ts_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    """The notify webhook refuses every call: the notification retries in the background, the
    job keeps waiting, and a late answer completes it (cancelling the notification); a second
    silence fails with InputTimeout, never with the webhook's error."""
    down = settings.model_copy(update={"notify_webhook": "http://127.0.0.1:9/hook"})
    async with build_worker(down, ts_env.client, stores):
        answered = await start(ts_env, down, review_timeout_s=3600)
        await ts_env.sleep(3600 + 60)
        await review(answered, decision="reject")
        assert (await answered.result()).outcome == "rejected"
        history = await answered.fetch_history()
        assert "notify_person" in await _activities(answered)
        assert any(
            e.HasField("activity_task_cancel_requested_event_attributes") for e in history.events
        )

        silent = await start(ts_env, down, review_timeout_s=3600)
        with pytest.raises(WorkflowFailureError) as caught:
            await silent.result()
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "InputTimeout"


async def _activities(handle: Handle) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


async def test_worker_restart_while_waiting_loses_nothing(
    dev_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """The wait lives in Temporal, not in the worker: a new worker takes the answer.

    On the dev server, which hands a stopped worker's sticky tasks on as production does."""
    fake_openai.script(Reply.ok("Draft from the first worker."))
    async with build_worker(settings, dev_env.client, stores):
        handle = await start(dev_env, settings)
        await waiting(handle)
    async with build_worker(settings, dev_env.client, stores):
        await review(handle, decision="approve")
        result = await handle.result()
    assert result.final_text == "Draft from the first worker."
    assert len(fake_openai.requests) == 1


async def test_publish_retried_on_another_worker_lands_once(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores, database_url: str
) -> None:
    """Worker A writes the outbox entry and is lost before reporting; worker B's retry finds
    the key already there: one entry, and the receipt says duplicate.

    On the dev server, which hands a stopped worker's sticky tasks on as production does."""
    attempts: list[tuple[str, Any]] = []
    async with lost_after_running("publish_draft", settings, dev_env, stores, attempts):
        handle = await start(dev_env, settings)
        await review(handle, decision="approve")
        await eventually(lambda: attempted(attempts), until=lambda n: n == 1, what="A wrote")
    async with other_worker("publish_draft", settings, dev_env, database_url, attempts):
        result = await handle.result()
    assert [(worker, receipt.duplicate) for worker, receipt in attempts] == [
        ("A", False),
        ("B", True),
    ]
    assert result.publish is not None
    assert result.publish.duplicate
    assert len(await stores.outbox.entries(handle.id)) == 1
