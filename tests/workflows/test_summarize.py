"""SummarizeWorkflow on the time-skipping server, with real activities against the fake model."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from core.config import Settings
from core.contracts.options import JobOptions
from core.contracts.summarize import SummarizeInput, SummarizeProgress, SummarizeRun
from core.temporal import JOB_OWNER
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply
from tests.support.polling import eventually
from tests.support.temporal import history_text
from workflows.summarize import SummarizeWorkflow

# About 90 characters each: two fit a 200-character chunk, three do not.
PARAGRAPHS = [
    f"Paragraph {i} opens here. It has a second sentence about topic {i}, told at some length."
    for i in range(6)
]
TEXT = "\n\n".join(PARAGRAPHS)


async def start(
    env: WorkflowEnvironment, settings: Settings, **fields: Any
) -> WorkflowHandle[SummarizeWorkflow, Any]:
    return await env.client.start_workflow(
        SummarizeWorkflow.run,
        SummarizeRun(**fields),
        id=f"summarize-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )


def chunk_calls(fake: FakeOpenAI) -> list[str]:
    return [r.user_text for r in fake.requests if "Combine" not in r.system_text]


def combine_calls(fake: FakeOpenAI) -> list[str]:
    return [r.user_text for r in fake.requests if "Combine" in r.system_text]


async def test_short_text_is_one_call(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """A text that fits one chunk is summarized by one call, with no combine step."""
    fake_openai.script(Reply.ok("The short summary.", usage=(30, 4)))
    handle = await start(ts_env, settings, text="Just one short paragraph.", max_words=20)
    result = await handle.result()
    assert result.summary == "The short summary."
    assert result.chunk_count == 1
    assert result.model == "fake-model"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.llm_calls) == (
        30,
        4,
        1,
    )
    assert "at most 20 words" in fake_openai.requests[0].system_text
    progress = await handle.query("progress", result_type=SummarizeProgress)
    assert (progress.stage, progress.completed, progress.total) == ("done", 1, 1)


async def test_chunks_then_combine(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Each chunk is summarized once, then one combine call sees every partial, in order."""
    handle = await start(ts_env, settings, text=TEXT, chunk_chars=200, max_words=50)
    result = await handle.result()
    chunks = chunk_calls(fake_openai)
    assert result.chunk_count == len(chunks) == 3
    assert sorted(chunks) == ["\n\n".join(PARAGRAPHS[i : i + 2]) for i in (0, 2, 4)]
    [combined] = combine_calls(fake_openai)
    partials = combined.split("\n\n")
    assert partials == [default_reply({"messages": [{"content": c}]}).text for c in sorted(chunks)]
    assert result.summary == default_reply({"messages": [{"content": combined}]}).text
    assert result.usage.llm_calls == 4


async def test_combine_is_hierarchical_when_partials_do_not_fit(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Partials too long for one call are combined in groups, level by level, down to one."""
    fake_openai.responder = lambda request: Reply.ok("x" * 150 + ".")
    # Each part fills most of a chunk, so there is one chunk per part.
    text = "\n\n".join(f"Part {i} " + "word " * 28 for i in range(12))
    handle = await start(ts_env, settings, text=text, chunk_chars=200, max_words=20)
    result = await handle.result()
    assert result.chunk_count == 12
    levels = [r for r in fake_openai.requests if "Combine" in r.system_text]
    # 12 partials of ~150 chars fit one call only in pairs: 6 groups, then 3, then 1 (3 merged).
    assert len(levels) == 6 + 3 + 1
    progress = await handle.query("progress", result_type=SummarizeProgress)
    assert progress.completed == progress.total == 12 + 10


async def test_fan_out_is_bounded(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """No more than `max_parallel` chunk calls are in flight at once."""

    def slow(request: dict[str, Any]) -> Reply:
        reply = default_reply(request)
        reply.delay_s = 0.2
        return reply

    fake_openai.responder = slow
    handle = await start(ts_env, settings, text=TEXT, chunk_chars=200, max_parallel=2)
    await handle.result()
    assert fake_openai.peak_in_flight == 2


async def test_a_wide_fan_out_runs_as_lanes_of_a_few_calls_per_slot(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Twelve chunks at max_parallel 6: two batch activities side by side (lanes of six
    chunks), each with three calls in flight, so a worker slot never stands for more than
    CALLS_PER_SLOT (4) calls and the job never has more than six."""

    def slow(request: dict[str, Any]) -> Reply:
        reply = default_reply(request)
        reply.delay_s = 0.2
        return reply

    fake_openai.responder = slow
    text = "\n\n".join(f"Lane paragraph {i} " + "word " * 30 for i in range(12))
    handle = await start(ts_env, settings, text=text, chunk_chars=200, max_parallel=6)
    result = await handle.result()
    assert result.chunk_count == 12
    assert 4 < fake_openai.peak_in_flight <= 6
    history = await handle.fetch_history()
    converter = pydantic_data_converter.payload_converter
    labels = [
        converter.from_payloads([e.user_metadata.summary])[0]
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    lanes = [label.split(" · ")[0] for label in labels[:2]]
    assert lanes == ["summarize chunks 1-6/12", "summarize chunks 7-12/12"]


async def test_transient_failures_are_retried_until_success(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """500 and a malformed body are retried by Temporal; a 429 (with Retry-After) is waited
    out inside the attempt, so it costs no attempt. The job completes."""
    fake_openai.script(
        Reply.error(429, "slow down", retry_after="0.2"),
        Reply.error(500, "oops"),
        Reply.malformed(),
        Reply.ok("Finally a summary."),
    )
    # A model of its own: the 429 pauses that model for every worker sharing the database.
    model = f"storm-{uuid.uuid4().hex}"
    handle = await start(ts_env, settings, text="One paragraph only.", model=model)
    result = await handle.result()
    assert result.summary == "Finally a summary."
    assert len(fake_openai.requests) == 4
    history = await handle.fetch_history()
    [completed] = [
        e for e in history.events if e.HasField("activity_task_started_event_attributes")
    ]
    assert completed.activity_task_started_event_attributes.attempt == 3


async def test_bad_request_fails_at_once_with_readable_type(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """A 400 is not retried: the job fails with type InvalidRequest after one request."""
    fake_openai.script(Reply.error(400, "max_completion_tokens is too large"))
    handle = await start(ts_env, settings, text="One paragraph only.")
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "InvalidRequest"
    assert "max_completion_tokens is too large" in cause.cause.message
    assert len(fake_openai.requests) == 1


async def test_each_call_of_a_batch_is_an_event_as_it_lands(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """The chunk calls run as one batch activity. While two are held, the one that answered
    is already a `step_completed` event; the progress query moves when the batch ends, its
    total counting the planned combine call from the start."""
    gate = threading.Event()
    fake_openai.script(Reply.ok("first is quick"))
    fake_openai.responder = lambda request: Reply.held(gate, "held summary")
    handle = await start(ts_env, settings, text=TEXT, chunk_chars=200)

    async def steps_done() -> list[str]:
        events = await stores.events.read(handle.id, after=-1)
        return [e.data["step"] for e in events if e.type == "step_completed"]

    assert len(await eventually(steps_done, until=lambda s: len(s) == 1, what="one call")) == 1
    seen = await handle.query("progress", result_type=SummarizeProgress)
    assert (seen.stage, seen.completed, seen.total) == ("summarizing", 0, 3 + 1)
    gate.set()
    await handle.result()
    done = await handle.query("progress", result_type=SummarizeProgress)
    assert (done.stage, done.completed, done.total) == ("done", 4, 4)
    assert sorted(await steps_done()) == ["chunk-1", "chunk-2", "chunk-3", "combine-1-1"]


async def test_cancel_stops_the_job_and_its_calls(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Cancelling a job in the middle of calls ends it as cancelled, with no combine step."""
    gate = threading.Event()
    fake_openai.responder = lambda request: Reply.held(gate, "never used")
    handle = await start(ts_env, settings, text=TEXT, chunk_chars=200)
    await eventually(
        lambda: _count(fake_openai), until=lambda n: n == 3, what="three chunk calls in flight"
    )
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    gate.set()
    assert isinstance(caught.value.cause, CancelledError)
    assert combine_calls(fake_openai) == []


async def _count(fake: FakeOpenAI) -> int:
    return len(fake.requests)


def test_input_rejects_blank_text_and_unknown_fields() -> None:
    """The input model is strict: blank text and misspelled fields are errors, not defaults."""
    with pytest.raises(ValueError, match="no words"):
        SummarizeInput(text="   \n ")
    with pytest.raises(ValueError, match="max_wrods"):
        SummarizeInput.model_validate({"text": "hi", "max_wrods": 3})


async def test_ui_timeline_labels_every_call(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Each model activity carries a summary for the Temporal UI timeline, naming its steps
    (the chunk calls are one batch) and the model."""
    handle = await start(ts_env, settings, text=TEXT, chunk_chars=200, model="fake-model")
    await handle.result()
    history = await handle.fetch_history()
    converter = pydantic_data_converter.payload_converter
    labels = sorted(
        converter.from_payloads([e.user_metadata.summary])[0]
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    )
    assert labels == [
        "combine level 1 · fake-model",
        "summarize chunks 1-3/3 · fake-model",
    ]


async def test_progress_only_moves_forward_over_a_three_level_combine(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """The whole combine tree is planned once the text is split: the total never changes,
    completed never passes it, and a completed job keeps its final
    progress (in its memo, readable with no worker)."""
    fake_openai.responder = lambda request: Reply.ok("x" * 150 + ".")
    text = "\n\n".join(f"Part {i} " + "word " * 28 for i in range(12))
    handle = await start(ts_env, settings, text=text, chunk_chars=200, max_words=20)
    seen: list[tuple[int, int]] = []

    async def progress() -> SummarizeProgress:
        current: SummarizeProgress = await handle.query("progress", result_type=SummarizeProgress)
        seen.append((current.completed, current.total))
        return current

    await eventually(progress, until=lambda p: p.stage == "done", interval_s=0.01)
    result = await handle.result()
    combines = [r for r in fake_openai.requests if "Combine" in r.system_text]
    # 12 partials, fan-in 2 for 20-word summaries in 200-char calls: 6, then 3, then 1 (of 3).
    assert (result.chunk_count, len(combines)) == (12, 6 + 3 + 1)
    totals = {total for _, total in seen if total}
    assert totals == {12 + 10}
    completed = [done for done, _ in seen]
    assert completed == sorted(completed)
    assert all(done <= 22 for done in completed)
    described = await handle.describe()
    final = await described.memo_value("progress")
    assert (final["stage"], final["completed"], final["total"]) == ("done", 22, 22)


async def test_a_retired_model_falls_back_at_once(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """A 404 for the job's model moves the step to the next model without retrying; the
    result names the model that answered and the history shows the move."""
    fake_openai.script(Reply.error(404, "model not found"), Reply.ok("From the fallback."))
    handle = await start(
        ts_env,
        settings,
        text="One paragraph only.",
        model="retired-model",
        options=JobOptions(fallback_models=["fake-model"]),
    )
    result = await handle.result()
    assert result.summary == "From the fallback."
    assert result.models == ["fake-model"]
    assert [r.body["model"] for r in fake_openai.requests] == ["retired-model", "fake-model"]
    text = history_text(await handle.fetch_history())
    assert "fallback to fake-model" in text


async def test_a_failing_model_gives_way_after_a_bounded_number_of_attempts(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Server errors on the primary: three attempts, then the fallback answers, instead of
    retrying the primary for half an hour."""
    fake_openai.script(*[Reply.error(500, "down") for _ in range(3)], Reply.ok("Backup."))
    handle = await start(
        ts_env,
        settings,
        text="One paragraph only.",
        model=f"flaky-{uuid.uuid4().hex}",
        options=JobOptions(fallback_models=["fake-model"]),
    )
    result = await handle.result()
    assert result.summary == "Backup."
    models = [r.body["model"] for r in fake_openai.requests]
    assert models[-1] == "fake-model"
    assert len(models) == 4


async def test_a_run_answered_from_the_cache_replays(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """The cache is looked up inside the activity: a run whose calls were all hits replays
    on the same code without a non-determinism error."""
    owner = TypedSearchAttributes([SearchAttributePair(JOB_OWNER, f"owner-{uuid.uuid4().hex}")])

    async def run_once() -> WorkflowHandle[Any, Any]:
        handle = await ts_env.client.start_workflow(
            SummarizeWorkflow.run,
            SummarizeRun(text=TEXT, chunk_chars=200),
            id=f"summarize-{uuid.uuid4().hex}",
            task_queue=settings.task_queue,
            search_attributes=owner,
        )
        await handle.result()
        return handle

    await run_once()
    calls = len(fake_openai.requests)
    second = await run_once()
    assert len(fake_openai.requests) == calls
    result = await second.result()
    assert result.usage.cache_hits == calls
    replayer = Replayer(workflows=[SummarizeWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(await second.fetch_history())
