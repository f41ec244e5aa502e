"""Record workflow histories for the replay test: `python -m tests.support.record_history
[NAME ...]` records one per job type (all of them without a NAME), and for the built-in
jobs a cassette too (tests/workflows/cassettes/, replayed by test_cassettes.py).

`summarize` (multi-chunk, a combine level, one rate-limited retry), `draft_review` (a
revision across continue-as-new, then approval and publish; one file per run), `agent` (tool
calls, a rejected malformed call, an approved side effect), `extract` (a repaired answer) and
`classify` (a batch, a repaired answer and a confirmation), `scheduled_run` (a schedule's
run: its quota check, then its summarize job as a child), `ingest` (two documents that
fail alone: a missing stored id and a private URL), and `answer` (retrieval from a collection
an offline ingest filled, and a structured answer that is not grounded). Jobs run on the dev server
against the fake model, and the histories are written beside the replay test, which finds
them by listing the folder. Before the first release, a workflow change that no longer
replays is re-recorded here; after it, such a change ships as a new worker deployment version
(docs/write-a-job.md).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from core.contracts.agent import AgentRun
from core.contracts.answer import AnswerRun
from core.contracts.classify import ClassifyRun
from core.contracts.draft_review import DraftReviewRun
from core.contracts.extract import ExtractDocument, ExtractRun
from core.contracts.human import Submission
from core.contracts.ingest import IngestRun, StoredSource
from core.contracts.schedules import ScheduledRun, Timetable
from core.contracts.summarize import SummarizeRun
from core.contracts.tools import Document
from core.temporal import JOB_OWNER
from store import Stores
from tests.conftest import make_settings
from tests.support.cassettes import CASSETTES, export
from tests.support.database import embedded_stores
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.temporal import start_dev_server
from worker import build_worker
from workflows.agent import AgentWorkflow
from workflows.answer import AnswerWorkflow
from workflows.classify import ClassifyWorkflow
from workflows.draft_review import DraftReviewWorkflow
from workflows.extract import ExtractWorkflow
from workflows.ingest import IngestWorkflow
from workflows.scheduled_run import ScheduledRunWorkflow
from workflows.summarize import SummarizeWorkflow

HISTORIES = Path(__file__).resolve().parents[1] / "workflows" / "histories"


async def summarize(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    fake.script(Reply.error(429, "slow down", retry_after="1"))
    text = "\n\n".join(f"Part {i} " + "word " * 28 for i in range(5))
    handle = await client.start_workflow(
        SummarizeWorkflow.run,
        SummarizeRun(text=text, chunk_chars=200, max_words=20, max_parallel=2),
        id=f"summarize-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    await handle.result()
    return handle


async def draft_review(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    handle = await client.start_workflow(
        DraftReviewWorkflow.run,
        DraftReviewRun(brief="Announce the new office hours.", review_timeout_s=3600),
        id=f"draft-review-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    for value in ({"decision": "revise", "feedback": "Shorter."}, {"decision": "approve"}):
        await eventually(partial(handle.query, DraftReviewWorkflow.waiting_for), what="question")
        await handle.execute_update(
            DraftReviewWorkflow.submit_answer,
            Submission(name="review", value=value, answered_by="recorder"),
        )
        handle = client.get_workflow_handle(handle.id)
    await handle.result()
    return handle


async def agent(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    fake.script(
        Reply.calls(("calculator", {"expression": "6 * 7"}), ("calculator", "{bad json")),
        Reply.calls(("create_ticket", {"title": "Answer", "body": "42"})),
        Reply.ok("Filed ticket with 42."),
    )
    handle = await client.start_workflow(
        AgentWorkflow.run,
        AgentRun(goal="Compute 6*7 and file it.", tools=["calculator", "create_ticket"]),
        id=f"agent-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    await eventually(partial(handle.query, AgentWorkflow.waiting_for), what="approval")
    await handle.execute_update(
        AgentWorkflow.submit_answer,
        Submission(name="approval", value={"decision": "allow"}, answered_by="recorder"),
    )
    await handle.result()
    return handle


async def extract(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    fake.script(
        Reply.ok('{"vendor": "Acme"}'),
        Reply.ok('{"vendor": "Acme", "total": 12.5}'),
        Reply.ok('{"vendor": "Globex", "total": 80}'),
    )
    schema = {
        "type": "object",
        "properties": {"vendor": {"type": "string"}, "total": {"type": "number"}},
        "required": ["vendor", "total"],
    }
    handle = await client.start_workflow(
        ExtractWorkflow.run,
        ExtractRun(
            output_schema=schema,
            documents=[
                ExtractDocument(name="a.txt", text="Acme bills 12.50."),
                ExtractDocument(name="b.txt", text="Globex bills 80."),
            ],
            max_parallel=1,
        ),
        id=f"extract-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    await handle.result()
    return handle


def label_support_tickets(request: dict[str, Any]) -> Reply:
    """A model for `classify`: labels by keyword, and answers the refund item without its
    confidence the first time (so it is repaired), then unsure of it (so a person confirms)."""
    messages = request["messages"]
    item = str(messages[1]["content"])
    if "money" in item:
        repaired = len(messages) > 2
        return Reply.ok('{"label": "refund", "confidence": 0.3}' if repaired else '"refund"')
    label = "billing" if "invoice" in item else "shipping"
    return Reply.ok(json.dumps({"label": label, "confidence": 0.9}))


async def classify(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    fake.responder = label_support_tickets
    handle = await client.start_workflow(
        ClassifyWorkflow.run,
        ClassifyRun(
            items=["My invoice is wrong.", "I want my money back.", "Where is my parcel?"],
            labels=["billing", "refund", "shipping"],
            confirm_below=0.5,
        ),
        id=f"classify-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    await eventually(partial(handle.query, ClassifyWorkflow.waiting_for), what="question")
    await handle.execute_update(
        ClassifyWorkflow.submit_answer,
        Submission(name="confirm", value={"labels": {"1": "refund"}}, answered_by="recorder"),
    )
    await handle.result()
    return handle


async def scheduled_run(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    job = SummarizeRun(text="A short text to summarize. It has two sentences.")
    handle = await client.start_workflow(
        ScheduledRunWorkflow.run,
        ScheduledRun(
            schedule="nightly",
            owner="recorder",
            timetable=Timetable(cron="0 2 * * *"),
            job_type="summarize",
            workflow_type="SummarizeWorkflow",
            run_input=job.model_dump(mode="json"),
        ),
        # The job's id derives from the run's: the replay test names the run by the file's stem.
        id="scheduled_run",
        task_queue=task_queue,
    )
    await handle.result()
    return handle


async def ingest(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    handle = await client.start_workflow(
        IngestWorkflow.run,
        IngestRun(
            collection="handbook",
            documents=[
                StoredSource(name="missing.md", document_id="doc-missing"),
                StoredSource(name="private.html", url="http://10.0.0.1/x"),
            ],
            embedding_model="offline",
        ),
        id=f"ingest-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
    await handle.result()
    return handle


async def answer(
    client: Client, task_queue: str, fake: FakeOpenAI, stores: Stores
) -> WorkflowHandle[Any, Any]:
    [ref] = await stores.documents.put(
        "recorder", [Document(name="policy.md", text="# Refunds\n\nRefunds take thirty days.")]
    )
    source = StoredSource(name="policy.md", document_id=ref.id)
    ingesting = await client.start_workflow(
        IngestWorkflow.run,
        IngestRun(collection="policy", documents=[source], embedding_model="offline"),
        id=f"ingest-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(JOB_OWNER, "recorder")]),
    )
    await ingesting.result()
    fake.responder = lambda request: Reply.ok(
        json.dumps({"answer": "Thirty days.", "grounded": False, "citations": []})
    )
    handle = await client.start_workflow(
        AnswerWorkflow.run,
        AnswerRun(collection="policy", question="How long do refunds take?"),
        id=f"answer-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(JOB_OWNER, "recorder")]),
    )
    await handle.result()
    return handle


Scenario = Callable[[Client, str, FakeOpenAI, Stores], Awaitable[WorkflowHandle[Any, Any]]]

SCENARIOS: dict[str, Scenario] = {
    "summarize": summarize,
    "draft_review": draft_review,
    "agent": agent,
    "extract": extract,
    "classify": classify,
    "scheduled_run": scheduled_run,
    "ingest": ingest,
    "answer": answer,
}


# Job types whose recording is also written as a cassette, replayed by test_cassettes.py.
CASSETTE_SCENARIOS = ("summarize", "draft_review", "agent", "extract", "classify")


async def record(name: str) -> list[Path]:
    env = await start_dev_server()
    written: list[Path] = []
    try:
        with FakeOpenAI().running() as fake, tempfile.TemporaryDirectory() as data_dir:
            settings = make_settings(
                openai_base_url=fake.base_url,
                openai_api_key="sk-record",
                task_queue=f"record-{uuid.uuid4().hex}",
                model="fake-model",
                data_dir=data_dir,
            )
            async with (
                embedded_stores(Path(data_dir)) as (_, stores),
                build_worker(settings, env.client, stores),
            ):
                handle = await SCENARIOS[name](env.client, settings.task_queue, fake, stores)
                if name in CASSETTE_SCENARIOS:
                    cassette = await export(env.client, stores, "", handle.id)
                    path = CASSETTES / f"{name}.json"
                    path.write_text(cassette.model_dump_json(indent=1) + "\n")
                    written.append(path)
            runs = [
                execution.run_id
                async for execution in env.client.list_workflows(f"WorkflowId = '{handle.id}'")
            ]
            for index, run_id in enumerate(reversed(runs), start=1):
                history = await env.client.get_workflow_handle(
                    handle.id, run_id=run_id
                ).fetch_history()
                suffix = "" if len(runs) == 1 else f"_run{index}"
                path = HISTORIES / f"{name}{suffix}.json"
                path.write_text(history.to_json())
                written.append(path)
    finally:
        await env.shutdown()
    return written


if __name__ == "__main__":
    for name in sys.argv[1:] or SCENARIOS:
        for path in asyncio.run(record(name)):
            print(path)
