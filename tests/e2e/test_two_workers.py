"""Two hosts, simulated: two worker processes from different directories with different data
dirs, sharing only Temporal and the database. One is SIGKILLed mid-loop; every job completes,
no answered model call is paid again, each approved side effect lands once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from core.contracts.agent import AgentRun
from core.contracts.draft_review import DraftReviewResult, DraftReviewRun
from core.contracts.human import Submission
from core.contracts.tools import Document
from core.temporal import JOB_OWNER
from store import Stores
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.processes import kill, start_worker, stop, worker_env
from workflows.agent import AgentWorkflow
from workflows.draft_review import DraftReviewWorkflow

AGENTS = 8
DRAFTS = 4


def job_of(request: dict[str, Any]) -> str:
    """The job a model request belongs to: its goal or brief names it."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return str(user).split(":", 1)[0]


def tool_results(request: dict[str, Any]) -> int:
    return sum(1 for m in request["messages"] if m["role"] == "tool")


def responder_for(gate: threading.Event) -> Any:
    def respond(request: dict[str, Any]) -> Reply:
        if "tools" not in request:  # a draft_review draft
            return Reply.ok(f"Draft for {job_of(request)}.")
        done = tool_results(request)
        if done == 0:
            return Reply.calls(("search_documents", {"query": "refund window"}))
        if done == 1:
            found = str(request["messages"][-1]["content"])
            return Reply.calls(("create_ticket", {"title": job_of(request), "body": found}))
        if gate.is_set():
            return Reply.ok(f"{job_of(request)} is done.")
        return Reply.held(gate, "never delivered: this worker's host is gone")

    return respond


async def start_agent(client: Client, queue: str, index: int) -> WorkflowHandle[Any, Any]:
    owner = f"owner-{uuid.uuid4().hex}"
    return await client.start_workflow(
        AgentWorkflow.run,
        AgentRun(
            goal=f"agent-{index}: look up the refund window and file it",
            tools=["search_documents", "create_ticket"],
            preapproved_tools=["create_ticket"],
            documents=[
                Document(name=f"policy-{index}.md", text="The refund window is 30 days."),
                Document(name="menu.md", text="Soup of the day."),
            ],
        ),
        id=f"two-hosts-agent-{uuid.uuid4().hex}",
        task_queue=queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(JOB_OWNER, owner)]),
    )


async def start_draft(client: Client, queue: str, index: int) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        DraftReviewWorkflow.run,
        DraftReviewRun(brief=f"draft-{index}: announce the new office hours"),
        id=f"two-hosts-draft-{uuid.uuid4().hex}",
        task_queue=queue,
    )


async def test_two_hosts_share_the_work_and_survive_losing_one(
    dev_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    """Agents (documents, search, a ticket) and draft reviews (an outbox publish) spread over
    hosts A and B; A dies with calls in flight; B finishes everything."""
    gate = threading.Event()
    fake_openai.responder = responder_for(gate)
    client = dev_env.client
    hosts: dict[str, Any] = {}
    for name in ("a", "b"):
        home = tmp_path / f"host-{name}"
        home.mkdir()
        env = worker_env(
            client.service_client.config.target_host,
            task_queue,
            fake_openai.base_url,
            home / "data",
            database_url,
        )
        hosts[name] = (start_worker(env, home / "worker.log", cwd=home), home / "worker.log")
    try:
        # Both hosts poll before any job exists, so each can take a share.
        for _, log in hosts.values():
            await eventually(_started(log), what="worker started", timeout_s=60)
        agents = [await start_agent(client, task_queue, i) for i in range(AGENTS)]
        drafts = [await start_draft(client, task_queue, i) for i in range(DRAFTS)]
        await eventually(
            lambda: _held(fake_openai),
            until=lambda held: held == AGENTS,
            timeout_s=90,
            what="every agent's last step in flight",
        )
        kill(hosts["a"][0])
        gate.set()
        for handle in drafts:
            await eventually(
                _question(handle), until=lambda asked: asked, what="draft waiting for review"
            )
            await handle.execute_update(
                DraftReviewWorkflow.submit_answer,
                Submission(name="review", value={"decision": "approve"}, answered_by="carol"),
            )
        agent_results = [await h.result() for h in agents]
        draft_results: list[DraftReviewResult] = [await h.result() for h in drafts]
    finally:
        gate.set()
        for process, _ in hosts.values():
            if process.poll() is None:
                stop(process)

    logs = {name: log.read_text() for name, (_, log) in hosts.items()}
    assert all('"event": "llm.completed"' in text for text in logs.values()), "one host idled"
    assert [r.outcome for r in agent_results] == ["answered"] * AGENTS
    assert [r.outcome for r in draft_results] == ["published"] * DRAFTS

    per_step = Counter((job_of(r.body), tool_results(r.body)) for r in fake_openai.requests)
    for index in range(AGENTS):
        job = f"agent-{index}"
        # Steps that had answered before the kill were never asked again; the last step was
        # asked again only where host A had it in flight.
        assert (per_step[(job, 0)], per_step[(job, 1)]) == (1, 1), job
        assert per_step[(job, 2)] in (1, 2), job
    for index in range(DRAFTS):
        assert per_step[(f"draft-{index}", 0)] == 1

    for index, (handle, result) in enumerate(zip(agents, agent_results, strict=True)):
        assert [(s.tool, s.status) for s in result.steps] == [
            ("search_documents", "ok"),
            ("create_ticket", "ok"),
        ]
        assert result.steps[0].result_summary.startswith(f"policy-{index}.md: ")
        assert "menu.md" not in result.steps[0].result_summary
        assert len(await stores.tickets.for_job(handle.id)) == 1
    for handle, result in zip(drafts, draft_results, strict=True):
        assert result.publish is not None
        assert len(await stores.outbox.entries(handle.id)) == 1


def _started(log: Path) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        text = await asyncio.to_thread(lambda: log.read_text() if log.exists() else "")
        return '"event": "worker.started"' in text

    return started


def _question(handle: WorkflowHandle[Any, Any]) -> Callable[[], Awaitable[bool]]:
    async def asked() -> bool:
        return await handle.query(DraftReviewWorkflow.waiting_for) is not None

    return asked


async def _held(fake: FakeOpenAI) -> int:
    """Agents whose last step is being asked right now."""
    return sum(1 for r in fake.requests if tool_results(r.body) == 2) if fake.in_flight else 0
