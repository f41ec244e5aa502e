"""Killing the worker mid-stream: the client sees `retry`, then the new attempt's tokens, then
the outcome, over one SSE connection with no duplicate or missing ids."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.conftest import key_of
from tests.support.api_server import serve_api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.processes import kill, start_worker, stop, worker_env
from tests.support.sse import Received, events

SLOW = "this answer is written very slowly and never finishes"
FAST = "second attempt, written at once"


async def test_worker_killed_mid_stream_yields_retry_then_completes(
    dev_env: WorkflowEnvironment, settings: Settings, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """The stream survives the worker: `retry` tells the client to drop attempt 1's text."""
    fake_openai.script(Reply.ok(SLOW, delay_s=60), Reply.ok(FAST))
    env = worker_env(
        dev_env.client.service_client.config.target_host,
        settings.task_queue,
        fake_openai.base_url,
        tmp_path,
        settings.database_url.get_secret_value() if settings.database_url else "",
    )
    log = tmp_path / "worker.log"
    first = start_worker(env, log)
    second = None
    headers = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
    received: list[Received] = []
    try:
        async with (
            serve_api(settings, dev_env.client) as url,
            httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http,
        ):
            created = await http.post(
                "/v1/jobs", json={"type": "summarize", "input": {"text": "Short text."}}
            )
            job_id = created.json()["id"]
            async for event in events(http, job_id):
                received.append(event)
                if event.event == "token" and second is None:
                    kill(first)
                    second = start_worker(env, log)
    finally:
        if first.poll() is None:
            kill(first)
        if second is not None:
            assert stop(second) == 0, log.read_text()

    kinds = [e.event for e in received]
    assert "retry" in kinds, kinds
    retry = received[kinds.index("retry")]
    assert (retry.data["step"], retry.data["attempt"]) == ("chunk-1", 2)
    after_retry = [e.data["text"] for e in received[kinds.index("retry") :] if e.event == "token"]
    assert "".join(after_retry) == FAST
    assert all(
        e.data["attempt"] == 1 for e in received[: kinds.index("retry")] if e.event == "token"
    )
    assert kinds[-1] == "completed"
    assert received[-1].data["result"]["summary"] == FAST
    ids = [int(e.id) for e in received]
    assert ids == sorted(set(ids))
