"""A worker killed mid-ingest (SIGKILL): a new worker finishes the document, and no embedding
that was paid for and kept is asked for again."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from core.contracts.ingest import IngestResult, IngestRun, StoredSource
from core.contracts.tools import Document
from core.offline_embedding import offline_embedding
from core.temporal import JOB_OWNER
from store import Stores
from tests.support.fake_openai import FakeOpenAI
from tests.support.polling import eventually
from tests.support.processes import kill, start_worker, stop, worker_env
from workflows.ingest import IngestWorkflow

# Paragraphs of about 30 tokens, one per 50-token passage: 128 passages fill the first
# embedding request, and the 20 after them make a second one.
FIRST = [f"Alpha {i}: " + " ".join(f"a{i}w{j}" for j in range(26)) + "." for i in range(128)]
SECOND = [f"Omega {i}: " + " ".join(f"o{i}w{j}" for j in range(26)) + "." for i in range(20)]


def embedded(fake: FakeOpenAI) -> Counter[str]:
    """How often each text was sent to /embeddings."""
    return Counter(
        text for r in fake.requests if r.path.endswith("/embeddings") for text in r.body["input"]
    )


async def test_a_killed_ingest_pays_for_no_kept_embedding_again(
    dev_env: WorkflowEnvironment,
    fake_openai: FakeOpenAI,
    task_queue: str,
    tmp_path: Path,
    database_url: str,
    stores: Stores,
) -> None:
    """The first request's 128 embeddings are kept with their ledger line; the second hangs
    and the worker is killed. The retry, on another worker, asks only for the second 20."""
    owner = f"owner-{uuid.uuid4().hex}"
    release = threading.Event()

    def embed(text: str) -> list[float]:
        if text.startswith("Omega"):
            release.wait(timeout=60)
        return offline_embedding(text)

    fake_openai.embed = embed
    [ref] = await stores.documents.put(
        owner, [Document(name="long.md", text="\n\n".join(FIRST + SECOND))]
    )
    env = worker_env(
        dev_env.client.service_client.config.target_host,
        task_queue,
        fake_openai.base_url,
        tmp_path,
        database_url,
    )
    first = start_worker(env, tmp_path / "worker-1.log")
    try:
        handle = await dev_env.client.start_workflow(
            IngestWorkflow.run,
            IngestRun(
                collection="crash",
                documents=[StoredSource(name="long.md", document_id=ref.id)],
                chunk_tokens=50,
                overlap_tokens=0,
                embedding_model="text-embedding-3-small",
            ),
            id=f"ingest-{uuid.uuid4().hex}",
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(JOB_OWNER, owner)]),
        )

        async def second_request_sent() -> int:
            return embedded(fake_openai)[SECOND[0]]

        await eventually(second_request_sent, timeout_s=60, what="the second request")
    finally:
        kill(first)
    release.set()
    second = start_worker(env, tmp_path / "worker-2.log")
    try:
        result: IngestResult = await handle.result()
    finally:
        stop(second)
    [document] = result.documents
    assert (document.status, document.chunks) == ("ingested", 148)
    counts = embedded(fake_openai)
    assert {counts[text] for text in FIRST} == {1}
    assert {counts[text] for text in SECOND} == {2}
    # One ledger line per request that was kept: the first, and the retry's.
    now = datetime.now(UTC)
    [line] = await stores.ledger.usage(owner, now - timedelta(hours=1), now, "model")
    assert line.calls == 2
