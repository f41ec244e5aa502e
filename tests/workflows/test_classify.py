"""ClassifyWorkflow, the job written only with the job SDK: batches of structured calls, the
job's budget, cache and fallbacks, and a person confirming the items the model was unsure of."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.contracts.classify import ClassifyResult, ClassifyRun
from core.contracts.human import Submission, WaitingFor
from core.contracts.options import JobOptions
from core.temporal import JOB_OWNER
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.record_history import label_support_tickets
from worker import build_worker
from workflows.classify import ClassifyWorkflow

pytestmark = pytest.mark.integration

Handle = WorkflowHandle[Any, ClassifyResult]
ITEMS = ["My invoice is wrong.", "I want my money back.", "Where is my parcel?"]
LABELS = ["billing", "refund", "shipping"]


async def start(
    env: WorkflowEnvironment, settings: Settings, owner: str | None = None, **fields: Any
) -> Handle:
    attributes = TypedSearchAttributes([SearchAttributePair(JOB_OWNER, owner)] if owner else [])
    return await env.client.start_workflow(
        ClassifyWorkflow.run,
        ClassifyRun(**({"items": ITEMS, "labels": LABELS} | fields)),
        id=f"classify-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
        search_attributes=attributes,
    )


async def question(handle: Handle) -> WaitingFor:
    async def probe() -> WaitingFor | None:
        return await handle.query(ClassifyWorkflow.waiting_for)

    found = await eventually(probe, what="the confirm question")
    assert found is not None
    return found


def confident(request: dict[str, Any]) -> Reply:
    """Every item labelled with confidence 0.9, by keyword."""
    text = str(request["messages"][1]["content"]).lower()
    keywords = {"invoice": "billing", "money": "refund", "parcel": "shipping"}
    label = next(label for word, label in keywords.items() if word in text)
    return Reply.ok(json.dumps({"label": label, "confidence": 0.9}))


async def test_items_are_labelled_in_one_batch_with_the_result_shape(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Three items are three structured calls at temperature 0 in one batch activity; the
    result lists each item with its label and confidence, and the job's models and usage."""
    fake_openai.responder = confident
    handle = await start(ts_env, settings)
    result = await handle.result()
    assert [item.model_dump() for item in result.items] == [
        {"index": 0, "text": ITEMS[0], "label": "billing", "confidence": 0.9, "confirmed_by": None},
        {"index": 1, "text": ITEMS[1], "label": "refund", "confidence": 0.9, "confirmed_by": None},
        {
            "index": 2,
            "text": ITEMS[2],
            "label": "shipping",
            "confidence": 0.9,
            "confirmed_by": None,
        },
    ]
    assert result.models == ["fake-model"]
    assert result.usage.llm_calls == 3
    assert {r.body["temperature"] for r in fake_openai.requests} == {0.0}
    assert all(r.body["response_format"]["type"] == "json_schema" for r in fake_openai.requests)
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["complete_chats"]


async def test_unsure_items_go_to_a_person_with_their_context(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Items under confirm_below are put in one `confirm` question listing them (index, text,
    proposed label, confidence); the answer's labels win and name who confirmed them. A misfit
    answer was repaired on the way."""
    fake_openai.responder = label_support_tickets
    handle = await start(ts_env, settings, confirm_below=0.5)
    asked = await question(handle)
    assert asked.name == "confirm"
    assert asked.context == {
        "labels": LABELS,
        "items": [{"index": 1, "text": ITEMS[1], "label": "refund", "confidence": 0.3}],
    }
    assert asked.answer_schema["properties"]["labels"]["additionalProperties"]["enum"] == LABELS
    await handle.execute_update(
        ClassifyWorkflow.submit_answer,
        Submission(name="confirm", value={"labels": {"1": "billing"}}, answered_by="maria"),
    )
    result = await handle.result()
    assert [(i.label, i.confirmed_by) for i in result.items] == [
        ("billing", None),
        ("billing", "maria"),
        ("shipping", None),
    ]
    repairs = [r for r in fake_openai.requests if len(r.body["messages"]) > 2]
    assert len(repairs) == 1
    assert "does not fit the required JSON Schema" in repairs[0].user_text


async def test_answers_naming_an_unlisted_item_or_label_are_refused(
    dev_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """An answer for an item that was not listed, with a label the job does not have, or
    missing a listed item is refused before history (on the dev server, which reports
    update rejections); a fitting one is taken."""
    fake_openai.responder = label_support_tickets
    async with build_worker(settings, dev_env.client, stores):
        handle = await start(dev_env, settings, confirm_below=0.5)
        await question(handle)
        refused_answers: list[dict[str, Any]] = [
            {"labels": {"1": "refund", "0": "billing"}},
            {"labels": {"1": "spam"}},
            {"labels": {}},
        ]
        for value in refused_answers:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    ClassifyWorkflow.submit_answer, Submission(name="confirm", value=value)
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert refused.value.cause.type == "InvalidAnswer"
        await handle.execute_update(
            ClassifyWorkflow.submit_answer,
            Submission(name="confirm", value={"labels": {"1": "refund"}}, answered_by="bo"),
        )
        result = await handle.result()
    assert result.items[1].confirmed_by == "bo"


async def test_the_deadline_keeps_the_models_labels_or_fails(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Nobody confirms in time: `accept` keeps the proposed labels, confirmed by nobody;
    `fail` fails the job with InputTimeout."""
    fake_openai.responder = label_support_tickets
    kept = await (await start(ts_env, settings, confirm_below=0.5)).result()
    assert [(i.label, i.confirmed_by) for i in kept.items][1] == ("refund", None)
    failing = await start(ts_env, settings, confirm_below=0.5, on_confirm_timeout="fail")
    with pytest.raises(WorkflowFailureError) as failed:
        await failing.result()
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "InputTimeout"


async def test_a_budget_stops_the_calls_between_two_calls(
    dev_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """Each call costs $0.015 against max_cost_usd $0.01: the calls in flight finish, no
    further call starts, and the job fails with BudgetExceeded. (On the dev server: the
    lane still in flight when the job fails must not hold the time-skipping clock.)"""
    settings.model_prices = {"fake-model": (Decimal(1000), Decimal(1000))}
    fake_openai.responder = confident
    items = [f"Invoice {i} is wrong." for i in range(40)]
    async with build_worker(settings, dev_env.client, stores):
        handle = await start(dev_env, settings, items=items, options=JobOptions(max_cost_usd=0.01))
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    # The batch activity refused the next call: its failure is the job's.
    activity = failed.value.cause
    assert isinstance(activity, ActivityError)
    refusal = activity.cause
    assert isinstance(refusal, ApplicationError)
    assert refusal.type == "BudgetExceeded"
    # Two lanes of four calls in flight: at most those eight were asked, never all forty.
    assert 1 <= len(fake_openai.requests) <= 8


async def test_the_same_job_twice_is_answered_from_the_cache(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """At temperature 0 the cross-run cache applies by default: the second run of the same
    job asks the model nothing and counts its answers as cache hits."""
    fake_openai.responder = confident
    owner = f"owner-{uuid.uuid4().hex}"
    first = await (await start(ts_env, settings, owner)).result()
    asked = len(fake_openai.requests)
    second = await (await start(ts_env, settings, owner)).result()
    assert len(fake_openai.requests) == asked == 3
    assert second.usage.cache_hits == 3
    assert [i.label for i in second.items] == [i.label for i in first.items]


async def test_a_missing_model_falls_back_to_the_next(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """A 404 for the job's model moves the batch to the fallback model at once."""

    def retired(request: dict[str, Any]) -> Reply:
        if request["model"] == "retired-model":
            return Reply.error(404, "model not found")
        return confident(request)

    fake_openai.responder = retired
    handle = await start(
        ts_env,
        settings,
        model="retired-model",
        options=JobOptions(fallback_models=["fake-model"]),
    )
    result = await handle.result()
    assert result.models == ["fake-model"]
    assert [i.label for i in result.items] == LABELS
    assert {r.body["model"] for r in fake_openai.requests} == {"retired-model", "fake-model"}
