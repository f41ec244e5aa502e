"""AgentWorkflow on the time-skipping server against scripted tool-calling conversations."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.contracts.agent import AgentResult, AgentRun
from core.contracts.human import Submission, WaitingFor
from core.contracts.tools import SIDE_EFFECT_NOT_PERFORMED, SUMMARY_CHARS
from store import ConversationStore, Stores, TicketStore
from store.database import create_engine
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.workers import attempted, lost_after_running, other_worker
from worker import build_worker
from workflows.agent import STEPS_PER_RUN, AgentWorkflow

Handle = WorkflowHandle[AgentWorkflow, AgentResult]


async def start(env: WorkflowEnvironment, settings: Settings, **fields: Any) -> Handle:
    defaults: dict[str, Any] = {"goal": "What is 6 times 7?", "tools": ["calculator"]}
    return await env.client.start_workflow(
        AgentWorkflow.run,
        AgentRun(**(defaults | fields)),
        id=f"agent-{uuid.uuid4().hex}",
        task_queue=settings.task_queue,
    )


async def test_tool_result_goes_back_to_the_model(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """The model asks for the calculator, gets 42 back, and answers; the trail shows the call."""
    fake_openai.script(Reply.calls(("calculator", {"expression": "6 * 7"})), Reply.ok("It is 42."))
    result = await (await start(ts_env, settings)).result()
    assert (result.outcome, result.answer) == ("answered", "It is 42.")
    first, second = (r.body for r in fake_openai.requests)
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["expression"]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool"]
    assert second["messages"][2]["tool_calls"][0]["function"]["name"] == "calculator"
    assert second["messages"][3] == {"role": "tool", "tool_call_id": "call_0", "content": "42"}
    [call] = result.steps
    assert (call.step, call.tool, call.arguments, call.status, call.result_summary) == (
        1,
        "calculator",
        '{"expression": "6 * 7"}',
        "ok",
        "42",
    )
    assert (result.llm_steps, result.tool_calls, result.usage.llm_calls) == (2, 1, 2)


async def test_invalid_arguments_are_fed_back_and_corrected(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Arguments that fail the tool's model never run; the model reads why and tries again."""
    fake_openai.script(
        Reply.calls(("calculator", {"expr": "6 * 7"})),
        Reply.calls(("calculator", "{not json")),
        Reply.calls(("calculator", {"expression": "6 * 7"})),
        Reply.ok("42."),
    )
    result = await (await start(ts_env, settings)).result()
    assert [s.status for s in result.steps] == ["rejected", "rejected", "ok"]
    feedback = fake_openai.requests[1].body["messages"][-1]["content"]
    assert feedback.startswith(
        "error: invalid arguments for calculator: expression: Field required"
    )
    assert fake_openai.requests[2].body["messages"][-1]["content"] == (
        "error: the arguments are not valid JSON"
    )
    assert result.answer == "42."


async def test_disallowed_and_unknown_tools_are_refused(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """A real tool the job did not allow, and a made-up one: both refused, neither run."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "t", "body": "b"}), ("rm_rf", {})),
        Reply.ok("I will not."),
    )
    result = await (await start(ts_env, settings)).result()
    assert [(s.tool, s.status) for s in result.steps] == [
        ("create_ticket", "rejected"),
        ("rm_rf", "rejected"),
    ]
    tool_messages = [m for m in fake_openai.requests[1].body["messages"] if m["role"] == "tool"]
    assert tool_messages[0]["content"] == "error: tool 'create_ticket' is not allowed for this job"
    assert tool_messages[1]["content"].startswith("error: unknown tool 'rm_rf'")
    assert (await stores.tickets.for_job("x")) == []


async def approval(handle: Handle) -> WaitingFor:
    async def probe() -> WaitingFor | None:
        return await handle.query(AgentWorkflow.waiting_for)

    found = await eventually(probe, what="the approval question")
    assert found is not None
    return found


async def test_side_effect_waits_for_approval_then_runs_once(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """create_ticket is not pre-approved: a person allows it, then exactly one ticket exists."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "Printer", "body": "It is on fire."})),
        Reply.ok("Ticket filed."),
    )
    handle = await start(ts_env, settings, goal="File a ticket", tools=["create_ticket"])
    question = await approval(handle)
    assert question.name == "approval"
    assert '"title": "Printer"' in question.prompt
    await handle.signal(
        AgentWorkflow.answer,
        Submission(name="approval", value={"decision": "allow"}, answered_by="carol"),
    )
    result = await handle.result()
    [call] = result.steps
    assert (call.status, call.approved_by) == ("ok", "carol")
    assert call.result_summary.startswith("created ticket TCK-")
    assert (await stores.tickets.for_job(handle.id)) == [
        (call.result_summary.split()[-1], "Printer")
    ]


async def test_denied_side_effect_ends_the_job(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """A denial stops the job with outcome `denied` and the reason; nothing is written."""
    fake_openai.script(Reply.calls(("create_ticket", {"title": "Spam", "body": "Buy now"})))
    handle = await start(ts_env, settings, goal="File a ticket", tools=["create_ticket"])
    await approval(handle)
    await handle.signal(
        AgentWorkflow.answer,
        Submission(
            name="approval", value={"decision": "deny", "reason": "spam"}, answered_by="dan"
        ),
    )
    result = await handle.result()
    assert result.outcome == "denied"
    assert result.reason == "create_ticket denied by dan: spam"
    assert [(s.status, s.approved_by) for s in result.steps] == [("denied", "dan")]
    assert (await stores.tickets.for_job(handle.id)) == []


async def test_unanswered_approval_is_a_denial(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Nobody answers within a day (skipped time): the call is denied, not run."""
    fake_openai.script(Reply.calls(("create_ticket", {"title": "T", "body": "B"})))
    handle = await start(ts_env, settings, goal="File", tools=["create_ticket"])
    result = await handle.result()
    assert result.outcome == "denied"
    assert "no approval before the deadline" in (result.reason or "")


async def test_preapproved_side_effect_runs_without_asking(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """`preapproved_tools` skips the question."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "T", "body": "B"})), Reply.ok("Done.")
    )
    handle = await start(
        ts_env, settings, tools=["create_ticket"], preapproved_tools=["create_ticket"]
    )
    result = await handle.result()
    assert result.outcome == "answered"
    assert result.steps[0].approved_by is None
    assert len(await stores.tickets.for_job(handle.id)) == 1


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ({"max_steps": 3}, "max_steps (3) reached"),
        ({"max_tool_calls": 2}, "max_tool_calls (2) reached"),
        ({"max_tokens": 100}, "max_tokens (100) reached: 120 used"),
    ],
)
async def test_every_budget_ends_the_loop(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    budget: dict[str, int],
    expected: str,
) -> None:
    """A model that never stops calling tools is stopped by each budget, with the reason."""
    fake_openai.responder = lambda request: Reply.calls(
        ("calculator", {"expression": "1 + 1"}), usage=(50, 10)
    )
    result = await (await start(ts_env, settings, **budget)).result()
    assert (result.outcome, result.reason, result.answer) == ("budget_exhausted", expected, None)


async def test_long_loop_with_big_arguments_keeps_every_run_small(
    ts_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    worker: Worker,
    stores: Stores,
) -> None:
    """60 model steps over three runs, each proposing a ticket with 5 KB of arguments: the
    model still sees every earlier message, every run's history stays under 1 MB and no
    continue-as-new carries more than 256 KB, because conversations, documents and whole
    arguments live in the database and the audit trail keeps summaries. (Sixty are enough to
    tell: a run that kept its conversation would pass 1 MB within its 25 steps, and carried
    whole arguments would pass 256 KB.)"""
    steps = 60
    body = "x" * 4900

    def responder(request: dict[str, Any]) -> Reply:
        done = sum(1 for m in request["messages"] if m["role"] == "tool")
        if done < steps - 1:
            return Reply.calls(("create_ticket", {"title": f"T{done}", "body": body}))
        return Reply.ok(f"Filed {done} tickets.")

    fake_openai.responder = responder
    handle = await start(
        ts_env,
        settings,
        goal="File tickets",
        tools=["create_ticket"],
        preapproved_tools=["create_ticket"],
        max_steps=steps,
        max_tool_calls=steps,
        max_tokens=10_000_000,
    )
    result = await handle.result()
    assert (result.outcome, result.answer) == ("answered", f"Filed {steps - 1} tickets.")
    last = fake_openai.requests[-1].body["messages"]
    calls = [m["tool_calls"][0]["function"]["arguments"] for m in last if m["role"] == "assistant"]
    assert len(calls) == steps - 1
    assert all(json.loads(c)["body"] == body for c in calls)
    assert len(result.steps) == steps - 1
    assert all(len(s.arguments) <= SUMMARY_CHARS for s in result.steps)
    assert len(await stores.tickets.for_job(handle.id)) == steps - 1

    history_bytes, carried_bytes = [], []
    run_id: str | None = handle.first_execution_run_id
    while run_id:
        history = await ts_env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        history_bytes.append(sum(event.ByteSize() for event in history.events))
        last_event = history.events[-1]
        run_id = None
        if last_event.HasField("workflow_execution_continued_as_new_event_attributes"):
            continued = last_event.workflow_execution_continued_as_new_event_attributes
            carried_bytes.append(sum(p.ByteSize() for p in continued.input.payloads))
            run_id = continued.new_execution_run_id
    assert len(history_bytes) == -(-steps // STEPS_PER_RUN)
    assert max(history_bytes) < 1_000_000, history_bytes
    assert max(carried_bytes) < 256_000, carried_bytes


async def test_documents_are_searchable(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, worker: Worker
) -> None:
    """Documents sent with the job are stored, and search_documents finds passages in them."""
    fake_openai.script(
        Reply.calls(("search_documents", {"query": "refund window"})), Reply.ok("30 days.")
    )
    documents = [
        {"name": "policy.md", "text": "Refunds are accepted within a 30 day refund window."},
        {"name": "menu.md", "text": "Soup of the day."},
    ]
    result = await (
        await start(ts_env, settings, tools=["search_documents"], documents=documents)
    ).result()
    found = fake_openai.requests[1].body["messages"][-1]["content"]
    assert found.startswith("policy.md: ")
    assert "[refund]" in found
    assert "menu.md" not in found
    assert "policy.md" in fake_openai.requests[0].body["messages"][1]["content"]
    assert result.answer == "30 days."


async def test_each_job_searches_only_its_own_documents(
    dev_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """Six jobs of one owner run at once, each given its own policy; each search for "refund
    window" finds that job's policy and no other job's (an owner is often one service acting
    for many customers). On the dev server: six runs at once need no skipped time."""

    def search_then_answer(request: dict[str, Any]) -> Reply:
        last = request["messages"][-1]
        if last["role"] == "tool":
            return Reply.ok(str(last["content"]))
        return Reply.calls(("search_documents", {"query": "refund window"}))

    fake_openai.responder = search_then_answer
    async with build_worker(settings, dev_env.client, stores):
        handles = [
            await start(
                dev_env,
                settings,
                tools=["search_documents"],
                documents=[{"name": f"policy-{i}.md", "text": f"The refund window is {i + 10}."}],
            )
            for i in range(6)
        ]
        results = await asyncio.gather(*(handle.result() for handle in handles))
    for i, result in enumerate(results):
        assert result.answer is not None
        assert result.answer.startswith(f"policy-{i}.md: ")
        assert result.answer.count("policy-") == 1, result.answer


async def test_side_effect_retried_on_another_worker_lands_once(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    fake_openai: FakeOpenAI,
    stores: Stores,
    database_url: str,
) -> None:
    """Worker A writes the ticket and is lost before reporting; worker B, sharing only the
    database, runs the retry and finds the key: one ticket.

    On the dev server, which hands a stopped worker's sticky tasks on as production does."""
    fake_openai.script(Reply.calls(("create_ticket", {"title": "T", "body": "B"})), Reply.ok("ok"))
    attempts: list[tuple[str, Any]] = []
    async with lost_after_running("run_tool", settings, dev_env, stores, attempts):
        handle = await start(
            dev_env, settings, tools=["create_ticket"], preapproved_tools=["create_ticket"]
        )
        await eventually(lambda: attempted(attempts), until=lambda n: n == 1, what="A wrote")
    async with other_worker("run_tool", settings, dev_env, database_url, attempts):
        result = await handle.result()
    assert [worker for worker, _ in attempts] == ["A", "B"]
    assert attempts[0][1].content.startswith("created ticket")
    assert attempts[1][1].content.endswith("already exists")
    assert len(await stores.tickets.for_job(handle.id)) == 1
    assert result.steps[0].status == "ok"


def test_input_checks_tool_names() -> None:
    """Unknown tools and pre-approvals outside `tools` are refused at the boundary."""
    with pytest.raises(ValueError, match="unknown tools"):
        AgentRun(goal="g", tools=["shell"])
    with pytest.raises(ValueError, match="not in tools"):
        AgentRun(goal="g", tools=["calculator"], preapproved_tools=["create_ticket"])
    assert json.loads(AgentRun(goal="g").model_dump_json())["tools"] == []


class ReplyWriteFailsOnce(ConversationStore):
    """Refuses the first write of a model reply, as a database restarting would."""

    failed = False

    async def put(self, conversation_id: str, start: int, messages: list[dict[str, Any]]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionRefusedError("the database is restarting")
        await super().put(conversation_id, start, messages)


async def test_a_reply_that_cannot_be_stored_is_not_paid_for_again(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """The first reply's write fails after the model answered: the step still returns its
    answer (no second model call), the reply travels with the next step instead, and the
    stored conversation ends up whole."""
    fake_openai.script(Reply.calls(("calculator", {"expression": "6 * 7"})), Reply.ok("42."))
    flaky = dataclasses.replace(stores, conversations=ReplyWriteFailsOnce(stores.engine))
    async with build_worker(settings, ts_env.client, flaky):
        handle = await start(ts_env, settings)
        result = await handle.result()
    assert result.answer == "42."
    assert len(fake_openai.requests) == 2, "a model call was paid for twice"
    second = fake_openai.requests[1].body["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool"]
    assert second[2]["tool_calls"][0]["function"]["arguments"] == '{"expression": "6 * 7"}'
    stored = await stores.conversations.extend(handle.id, 5, [])
    assert [m["role"] for m in stored] == ["system", "user", "assistant", "tool", "assistant"]


async def test_a_side_effect_that_cannot_be_performed_fails_the_job_naming_it(
    ts_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """The tickets' database stays unreachable (a socket that does not exist): create_ticket is
    retried until its one-hour deadline (skipped here), and then the job fails saying which
    call it could not perform; the model is never told the database's error as a result."""
    unreachable = create_engine("postgresql://postgres@/postgres?host=/nonexistent", 1)
    broken = dataclasses.replace(stores, tickets=TicketStore(unreachable))
    fake_openai.script(Reply.calls(("create_ticket", {"title": "T", "body": "B"})))
    async with build_worker(settings, ts_env.client, broken):
        handle = await start(
            ts_env, settings, tools=["create_ticket"], preapproved_tools=["create_ticket"]
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    await unreachable.dispose()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == SIDE_EFFECT_NOT_PERFORMED
    assert cause.message.startswith("create_ticket (step 1, call call_0) could not be performed")
    assert len(fake_openai.requests) == 1  # no second model call was handed the error
