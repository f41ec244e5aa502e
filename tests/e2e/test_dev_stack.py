"""`make run`'s launcher as a user runs it: up on embedded defaults (Temporal dev server and
PostgreSQL), a job completes, Ctrl-C stops everything quickly, jobs are still there after a
restart, and a worker killed mid-job is restarted so the job finishes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from scripts.dev_stack import RESTART_BACKOFF_MAX_S, Child, Stack
from tests.support.database import crash_at
from tests.support.dev_stack import interrupt, new_ports, start_stack
from tests.support.fake_openai import FakeOpenAI, Reply, default_reply
from tests.support.polling import eventually

# Ctrl-C must stop the whole stack within this many seconds. It takes about 3 s; the bound is
# loose because the suite runs on two processes, and a PostgreSQL shutdown checkpoint under
# the other one's disk load took 11 s once. A hang would take longer.
QUICK_STOP_S = 20


RESTARTED = re.compile(r"worker(?:-\d+)? exited with -9; restarting it in [\d.]+s")


async def another_worker_as_the_banner_says(banner: str, tmp_path: Path) -> None:
    """The banner's command for another worker, run as printed from another directory with
    none of the stack's settings in the environment, starts a worker of the same stack."""
    command = banner.split("Another worker, from any directory", 1)[1].splitlines()[1].strip()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIJOBS_", "TEMPORAL_"))}
    log = elsewhere / "worker.log"
    with log.open("wb") as out:
        worker = await asyncio.create_subprocess_exec(
            "sh", "-c", f"exec env {command}", cwd=elsewhere, env=env, stdout=out, stderr=out
        )
    try:

        async def started() -> str:
            return log.read_text()

        await eventually(started, until=lambda text: "worker.started" in text, what="worker")
    finally:
        worker.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(worker.wait(), timeout=30) == 0, log.read_text()


async def test_make_run_stack_serves_a_job_and_survives_restart(tmp_path: Path) -> None:
    """Offline model, dev key printed and kept; jobs persist across a restart of the stack."""
    ports = new_ports()
    url = f"http://localhost:{ports['api']}"
    log = tmp_path / "stack.log"
    stack = await start_stack(tmp_path, ports, log)
    try:

        async def banner() -> str:
            return log.read_text()

        output = await eventually(banner, until=lambda text: "Ctrl-C stops" in text, what="banner")
        key = (tmp_path / "dev-api-key").read_text().strip()
        assert f"API key      {key}" in output
        assert f"Temporal UI  http://localhost:{ports['ui']}" in output
        await another_worker_as_the_banner_says(output, tmp_path)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            text = "Jobs are durable. Workers may crash.\n\nThe job still finishes."
            created = await http.post(
                "/v1/jobs", json={"type": "summarize", "input": {"text": text}}
            )
            assert created.status_code == 202
            job_id = created.json()["id"]
            assert created.json()["links"]["ui"].startswith(f"http://localhost:{ports['ui']}/")

            async def status() -> str:
                return str((await http.get(f"/v1/jobs/{job_id}")).json()["status"])

            await eventually(status, until=lambda s: s == "completed", what="job completed")
            # With no keys configured, a dev stack's history is plain JSON that the UI shows
            # as it is: no codec endpoint, no key to find, and the banner says so.
            temporal = await Client.connect(f"localhost:{ports['temporal']}")
            history = await temporal.get_workflow_handle(job_id).fetch_history()
            [plain] = history.events[0].workflow_execution_started_event_attributes.input.payloads
            assert plain.metadata["encoding"] == b"json/plain"
            assert "History      plain JSON, which the Temporal UI shows as it is" in output
            assert not (tmp_path / "dev-codec-key").exists()
            ui = (await http.get(f"http://localhost:{ports['ui']}/api/v1/settings")).json()
            # No codec for the UI to fail to reach (no red banner), and no outside newsfeed.
            assert (ui["Codec"]["Endpoint"], ui["DisableNewsFetch"]) == ("", True)
            job = (await http.get(f"/v1/jobs/{job_id}")).json()
            assert job["result"]["model"] == "offline"
            assert (
                job["result"]["summary"]
                == "Jobs are durable. Workers may crash. The job still finishes."
            )
    finally:
        stopped_in = interrupt(stack, log)
    assert stopped_in < QUICK_STOP_S
    assert "killed it" not in log.read_text()
    # A quiet stop: no traceback, no warning storm from the dev server, and no SDK line
    # promising a two-minute wait that Ctrl-C does not make.
    stop_output = log.read_text().split("Ctrl-C stops everything.", 1)[1]
    for noise in ("Traceback", "level=WARN", "Failed to poll", "will wait 0:02:00"):
        at = stop_output.find(noise)
        assert at < 0, stop_output[max(0, at - 300) : at + 1500]
    # One line per process: each worker's `worker.stopping`, then the launcher's for the rest.
    assert "uvicorn.error" not in stop_output
    assert stop_output.count('"worker.stopped"') == 0
    assert stop_output.rstrip().splitlines()[-1].startswith("aijobs: stopped api, worker")
    assert (tmp_path / "temporal.db").exists()
    assert (tmp_path / "postgres" / "PG_VERSION").exists()

    restarted = await start_stack(tmp_path, ports, log)
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            again = await http.get(f"/v1/jobs/{job_id}")
            assert again.status_code == 200
            assert again.json()["status"] == "completed"
    finally:
        interrupt(restarted, log)


async def test_make_run_restarts_a_killed_worker_and_the_job_completes(tmp_path: Path) -> None:
    """SIGKILL every worker (one per core by default) while a job waits for its review: the
    launcher says so and starts new ones, the API and Temporal stay up, and the answer
    completes the job."""
    ports = new_ports()
    url = f"http://localhost:{ports['api']}"
    log = tmp_path / "stack.log"
    stack = await start_stack(tmp_path, ports, log, {"AIJOBS_DEV_WORKERS": "0"})
    try:
        async with dev_client(tmp_path, url) as http:
            job_id = await waiting_review(http)

            async def status() -> str:
                return await job_status(http, job_id)

            killed = children(stack.pid, "worker.py")
            assert len(killed) == (os.cpu_count() or 1)
            for worker in killed:
                os.kill(worker, signal.SIGKILL)

            async def output() -> str:
                return log.read_text()

            await eventually(
                output,
                until=lambda text: len(RESTARTED.findall(text)) == len(killed),
                what="restart announced",
            )

            # The restarted worker boots, and Temporal moves the dead worker's sticky task on.
            await approve_until_completed(http, job_id)
            job = (await http.get(f"/v1/jobs/{job_id}")).json()
            assert job["result"]["outcome"] == "published"
            assert job["result"]["publish"]["destination"] == "outbox"
            restarted = children(stack.pid, "worker.py")
            assert len(restarted) == len(killed)
            assert not set(restarted) & set(killed)
    finally:
        interrupt(stack, log)
    text = log.read_text()
    assert "api exited" not in text
    assert "stopping the rest" not in text


async def test_make_run_heals_postgres_and_temporal_and_the_job_completes(tmp_path: Path) -> None:
    """Crash the embedded PostgreSQL, then SIGKILL the Temporal dev server, under a job waiting
    for its review: the launcher says so and starts each again on the same data, the workers
    and the API are not restarted (they wait and reconnect), and the answer completes the job."""
    ports = new_ports()
    url = f"http://localhost:{ports['api']}"
    log = tmp_path / "stack.log"
    stack = await start_stack(tmp_path, ports, log)

    async def output() -> str:
        return log.read_text()

    try:
        async with dev_client(tmp_path, url) as http:
            job_id = await waiting_review(http)

            async def status() -> str:
                return await job_status(http, job_id)

            workers = set(children(stack.pid, "worker.py"))
            api = set(children(stack.pid, "uvicorn"))

            crash_at(tmp_path / "postgres")
            await eventually(
                output, until=lambda text: "aijobs: postgres is back" in text, what="postgres"
            )
            [temporal] = children(stack.pid, "start-dev")
            os.kill(temporal, signal.SIGKILL)
            await eventually(
                output,
                until=lambda text: "temporal exited with -9; restarting it in" in text,
                what="temporal restart announced",
            )

            async def ready() -> int:
                try:
                    return (await http.get("/readyz")).status_code
                except httpx.TransportError:
                    return 0  # the API must not be down: a 0 fails the check below

            await eventually(ready, until=lambda code: code == 200, timeout_s=60, what="ready")

            await approve_until_completed(http, job_id)
            assert set(children(stack.pid, "worker.py")) == workers
            assert set(children(stack.pid, "uvicorn")) == api
    finally:
        interrupt(stack, log)
    text = log.read_text()
    assert "stopping the rest" not in text
    assert "postgres exited; restarting it on the same data" in text


async def test_a_temporal_kill_under_make_run_repays_no_answer(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """Three summarize calls are in flight when the dev server is killed, and answer while it
    is down: the launcher restarts it, the job completes, no request is answered twice, and
    the ledger has one line per answer."""
    gate = threading.Event()

    def responder(request: dict[str, Any]) -> Reply:
        if "Part " in str(request["messages"][-1]["content"]) and not gate.is_set():
            return Reply.held(gate, "Summary: " + str(request["messages"][-1]["content"])[:30])
        return default_reply(request)

    fake_openai.responder = responder
    ports = new_ports()
    url = f"http://localhost:{ports['api']}"
    log = tmp_path / "stack.log"
    model = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-test"}
    stack = await start_stack(tmp_path, ports, log, {**model, "AIJOBS_MODEL": "fake-model"})
    try:
        key = (tmp_path / "dev-api-key").read_text().strip()
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            text = "\n\n".join(f"Part {i} " + "words " * 35 for i in range(6))
            created = await http.post(
                "/v1/jobs",
                json={
                    "type": "summarize",
                    "input": {"text": text, "chunk_chars": 200, "max_parallel": 3},
                },
            )
            job_id = created.json()["id"]

            async def held() -> int:
                return fake_openai.in_flight

            await eventually(held, until=lambda n: n == 3, what="three calls in flight")
            [temporal] = children(stack.pid, "start-dev")
            os.kill(temporal, signal.SIGKILL)
            gate.set()  # the answers arrive while Temporal is down

            async def status() -> str:
                try:
                    return str((await http.get(f"/v1/jobs/{job_id}")).json()["status"])
                except (httpx.TransportError, KeyError):
                    return "unknown"

            await eventually(status, until=lambda s: s == "completed", timeout_s=90, what="done")
            usage = (await http.get("/v1/usage")).json()["total"]
    finally:
        interrupt(stack, log)
    bodies = Counter(json.dumps(r.body, sort_keys=True) for r in fake_openai.completed)
    assert max(bodies.values()) == 1
    assert usage["calls"] == len(fake_openai.completed)
    assert "temporal exited with -9; restarting it in" in log.read_text()


def dev_client(data_dir: Path, url: str) -> httpx.AsyncClient:
    """A client of the stack's API with the dev key the launcher made."""
    key = (data_dir / "dev-api-key").read_text().strip()
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def job_status(http: httpx.AsyncClient, job_id: str) -> str:
    return str((await http.get(f"/v1/jobs/{job_id}")).json()["status"])


async def waiting_review(http: httpx.AsyncClient) -> str:
    """A draft review's id, once it waits for its reviewer."""
    created = await http.post(
        "/v1/jobs", json={"type": "draft_review", "input": {"brief": "Open at nine."}}
    )
    job_id = str(created.json()["id"])
    await eventually(
        lambda: job_status(http, job_id), until=lambda s: s == "waiting_for_input", what="waiting"
    )
    return job_id


async def approve_until_completed(http: httpx.AsyncClient, job_id: str) -> None:
    """Approve the review as docs/api.md tells clients (on 503 or 504, read the job and resend
    while it waits: the same answer is one Update to Temporal), then wait for the job to end."""

    async def answer() -> int:
        if await job_status(http, job_id) != "waiting_for_input":
            return 200
        answered = await http.post(
            f"/v1/jobs/{job_id}/input", json={"name": "review", "value": {"decision": "approve"}}
        )
        return answered.status_code

    await eventually(answer, until=lambda code: code == 200, timeout_s=60, what="answer")
    await eventually(
        lambda: job_status(http, job_id), until=lambda s: s == "completed", what="job completed"
    )


def children(parent: int, command: str) -> list[int]:
    """Pids of `parent`'s children whose command line mentions `command`."""
    found = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", command], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def test_a_child_that_refuses_to_start_is_not_restarted() -> None:
    """A crash (SIGKILL) is restarted; a refusal to start (exit 2, a configuration problem)
    stops the stack with a pointer to the reason instead of looping every 30 seconds."""
    stack = Stack()
    crashed = stack.add(
        Child(
            "worker",
            [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"],
            restart=True,
        )
    )
    assert crashed.process is not None
    crashed.process.wait(timeout=30)
    assert stack.supervise() is None  # a crash: restart scheduled
    assert crashed.due_at is not None

    refusing = Stack()
    child = refusing.add(
        Child("worker", [sys.executable, "-c", "raise SystemExit(2)"], restart=True)
    )
    assert child.process is not None
    child.process.wait(timeout=30)
    assert refusing.supervise() == "worker refused to start (exit 2; its reason is above)"
    stack.stop()


async def test_ctrl_c_is_quick_with_watchers_and_jobs_in_flight(tmp_path: Path) -> None:
    """20 SSE clients on 10 jobs waiting for review, and 10 jobs just started: Ctrl-C stops
    the whole stack without killing any of it (about 3 s), and after a restart every job is
    still there."""
    ports = new_ports()
    url = f"http://localhost:{ports['api']}"
    log = tmp_path / "stack.log"
    stack = await start_stack(tmp_path, ports, log)
    key = (tmp_path / "dev-api-key").read_text().strip()
    headers = {"Authorization": f"Bearer {key}"}
    watchers: list[asyncio.Task[None]] = []
    connected: set[int] = set()
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            waiting = []
            for n in range(10):
                body = {"type": "draft_review", "input": {"brief": f"Brief {n}."}}
                waiting.append((await http.post("/v1/jobs", json=body)).json()["id"])

            async def watch(n: int, job_id: str) -> None:
                async with (
                    httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as own,
                    own.stream("GET", f"/v1/jobs/{job_id}/events") as stream,
                ):
                    async for line in stream.aiter_lines():
                        if line.startswith("event:"):
                            connected.add(n)

            watchers = [
                asyncio.create_task(watch(n, job_id)) for n, job_id in enumerate(waiting + waiting)
            ]

            async def all_connected() -> int:
                return len(connected)

            await eventually(all_connected, until=lambda n: n == 20, what="20 watchers")
            started = []
            for n in range(10):
                text = f"Job {n} in flight. It has words."
                body = {"type": "summarize", "input": {"text": text}}
                started.append((await http.post("/v1/jobs", json=body)).json()["id"])
    finally:
        # To the launcher alone: each child gets one SIGINT, so nothing counts on a second
        # signal forcing it out.
        stopped_in = interrupt(stack, log, group=False)
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    # No child had to be killed: the event streams were cut, not waited for (that took
    # 10.6 s, the launcher's deadline, before). It takes about 3 s; the total's bound is
    # loose because a PostgreSQL shutdown checkpoint under the suite's load can be slow.
    assert "killed it" not in log.read_text(), log.read_text()[-3000:]
    assert stopped_in < QUICK_STOP_S, log.read_text()[-3000:]

    restarted = await start_stack(tmp_path, ports, log)
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            for job_id in waiting + started:
                assert (await http.get(f"/v1/jobs/{job_id}")).status_code == 200

            async def completed() -> int:
                jobs = [(await http.get(f"/v1/jobs/{job_id}")).json() for job_id in started]
                return sum(job["status"] == "completed" for job in jobs)

            await eventually(completed, until=lambda n: n == 10, what="10 jobs completed")
    finally:
        interrupt(restarted, log)


def test_the_last_worker_is_restarted_at_once_and_backoff_is_capped() -> None:
    """While another worker lives, a crashed one waits its backoff, which doubles up to a few
    seconds; the last worker alive is started again at once, so the stack is never left
    without one for long."""
    dies = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"]
    lives = [sys.executable, "-c", "import signal; signal.pause()"]  # until stopped
    stack = Stack()
    try:
        alive = stack.add(Child("worker-1", lives, restart=True, kind="worker"))
        crashing = stack.add(Child("worker-2", dies, restart=True, kind="worker"))
        waits = []
        for _ in range(6):
            assert crashing.process is not None
            crashing.process.wait(timeout=30)
            started = time.monotonic()
            stack.supervise()
            assert crashing.due_at is not None
            waits.append(round(crashing.due_at - started, 1))
            crashing.start()  # as supervise does once due
        assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        assert RESTART_BACKOFF_MAX_S == 4.0

        assert alive.process is not None
        alive.process.kill()
        alive.process.wait(timeout=30)
        assert crashing.process is not None
        crashing.process.wait(timeout=30)
        started = time.monotonic()
        stack.supervise()
        # Both dead: neither waits for a stand-in that does not exist.
        due = [alive.due_at, crashing.due_at]
        assert None not in due
        assert all(at is not None and at - started < 0.1 for at in due)
    finally:
        stack.stop()
