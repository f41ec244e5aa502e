"""The `extract` job on the time-skipping server: schema-valid data per document, repairs
that show the model what misfit, and a failing document that does not fail the others."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.contracts.extract import ExtractDocument, ExtractRun
from core.contracts.llm import TokenUsage
from core.contracts.structured import StructuredResult
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply
from tests.support.temporal import history_text
from workflows.extract import ExtractWorkflow
from workflows.job import require_valid

SCHEMA = {
    "type": "object",
    "properties": {"company": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["company", "amount"],
    "additionalProperties": False,
}


async def extract(env: WorkflowEnvironment, settings: Settings, **fields: Any) -> Any:
    return await env.client.execute_workflow(
        ExtractWorkflow.run,
        ExtractRun(output_schema=SCHEMA, **fields),
        id=f"extract-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )


async def test_a_misfit_answer_is_repaired_with_the_errors_shown(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """The first answer lacks `amount`; the repair prompt quotes that, the second fits."""
    fake_openai.script(
        Reply.ok(json.dumps({"company": "Acme"})),
        Reply.ok(json.dumps({"company": "Acme", "amount": 120.5})),
    )
    result = await extract(
        ts_env,
        settings,
        documents=[ExtractDocument(name="invoice.txt", text="Acme bills 120.50 dollars.")],
    )
    [item] = result.items
    assert (item.status, item.data) == ("ok", {"company": "Acme", "amount": 120.5})
    repair = fake_openai.requests[1].body["messages"]
    assert "'amount' is a required property" in repair[-1]["content"]
    assert result.usage.llm_calls == 2


async def test_one_failing_document_does_not_fail_the_others(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Three documents; the model never gives valid JSON for one: after max_repairs it is
    `failed` with the last errors, the other two are `ok`, and the job completes."""

    def respond(request: dict[str, Any]) -> Reply:
        user = request["messages"][1]["content"]
        if "Document broken.txt" in user:
            return Reply.ok("Sorry, I cannot do JSON today.")
        return (
            default_reply(request)
            if "tools" in request
            else Reply.ok(json.dumps({"company": user.split()[1], "amount": 1}))
        )

    fake_openai.responder = respond
    documents = [
        ExtractDocument(name=n, text=f"{n} says hello.") for n in ("a.txt", "broken.txt", "c.txt")
    ]
    result = await extract(ts_env, settings, documents=documents, max_repairs=1)
    assert [i.status for i in result.items] == ["ok", "failed", "ok"]
    failed = result.items[1]
    assert failed.errors[0] == "the output did not fit the schema after 1 repairs"
    assert failed.errors[1].startswith("not valid JSON")
    broken_calls = [r for r in fake_openai.requests if "broken.txt" in str(r.body)]
    assert len(broken_calls) == 2


async def test_each_repair_is_its_own_step_in_history(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """The timeline shows the first attempt and the repair as separate activities."""
    fake_openai.script(Reply.ok("{}"), Reply.ok(json.dumps({"company": "X", "amount": 2})))
    handle = await ts_env.client.start_workflow(
        ExtractWorkflow.run,
        ExtractRun(output_schema=SCHEMA, documents=[ExtractDocument(name="d", text="X owes 2.")]),
        id=f"extract-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )
    await handle.result()
    text = history_text(await handle.fetch_history())
    assert "extract d" in text
    assert "repair 1" in text


def test_a_step_that_needs_valid_output_fails_with_the_last_errors() -> None:
    """require_valid: a job type that cannot continue without the data fails InvalidModelOutput,
    quoting why the last answer did not fit; a fitting result passes through."""
    fitting = StructuredResult(data={"a": 1}, model="m", usage=TokenUsage())
    assert require_valid(fitting, 2) is fitting
    misfit = StructuredResult(
        errors=["amount: 'x' is not of type 'number'"], model="m", usage=TokenUsage()
    )
    with pytest.raises(ApplicationError) as failed:
        require_valid(misfit, 2)
    assert failed.value.type == "InvalidModelOutput"
    assert failed.value.non_retryable
    assert "after 2 repairs: amount: 'x' is not of type 'number'" in failed.value.message
