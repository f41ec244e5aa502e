"""Retrieval, measured: ingest throughput, search latency, and recall of hybrid search
against vector-only and full-text-only.

    .venv/bin/python bench/retrieval.py [--documents 200] [--sizes 10000,100000] [--queries 200]

1. **Ingest**: `--documents` documents of five passages each go through the real `ingest` job
   (dev server, worker, embedded PostgreSQL) against a fake embedding endpoint that takes
   50 ms per request. Reported: passages per second, end to end.
2. **Search latency**: a collection filled with `--sizes` passages (256 dimensions, so the
   HNSW index serves it; random unit vectors, texts drawn from a 5,000-word vocabulary), then
   `--queries` hybrid searches (k = 8) through `CollectionStore.search`. Reported: p50, p99.
3. **Recall@5** on 400 generated passages and 200 questions, each answered by one known
   passage. The passages form 50 topics of 8; each names a unique made-up entity and says
   its topic's words, and its vector is its topic's direction plus its own. Half the
   questions name the entity in other words (the vector knows only the topic); half
   paraphrase the passage (the vector is near the passage's own, the words only the topic's).
   Each search (hybrid, vector only, text only) is scored by whether the known passage is in
   its top 5. The set is built so that each kind of question needs one of the two signals.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

import httpx
from sqlalchemy import text
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.logging import configure_logging  # noqa: E402
from core.passages import Passage  # noqa: E402
from core.temporal import SEARCH_ATTRIBUTES  # noqa: E402
from store import Stores  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.support.api_server import serve_api  # noqa: E402
from tests.support.database import embedded_stores  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402
from tests.support.polling import eventually  # noqa: E402
from tests.support.temporal import binary  # noqa: E402
from worker import build_worker  # noqa: E402

DIM = 256
# A seeded generator: the same data on every run, not secrets.
rng = random.Random(7)  # noqa: S311


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def noise(scale: float = 1.0) -> list[float]:
    return [rng.gauss(0, scale) for _ in range(DIM)]


def mix(*parts: tuple[float, list[float]]) -> list[float]:
    return unit([sum(w * p[i] for w, p in parts) for i in range(DIM)])


async def ingest_throughput(documents: int, tmp: Path) -> float:
    fake = FakeOpenAI()
    fake.embed_delay_s = 0.05
    parts = "\n\n".join(
        f"# Part {p}\n\n" + " ".join(f"Sentence {p}-{s} about the topic." for s in range(12))
        for p in range(5)
    )
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(SEARCH_ATTRIBUTES),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
    )
    try:
        with fake.running():
            async with embedded_stores(tmp / "pg-ingest") as (database_url, stores):
                settings = make_settings(
                    openai_base_url=fake.base_url,
                    openai_api_key="k",
                    task_queue=f"bench-{uuid.uuid4().hex}",
                    api_keys="a=key-a-0123456789",
                    data_dir=str(tmp),
                    database_url=database_url,
                    owner_rate_limit="100000/minute",
                )
                async with (
                    build_worker(settings, env.client, stores),
                    serve_api(settings, env.client) as url,
                    httpx.AsyncClient(base_url=url, timeout=600) as http,
                ):
                    body = {
                        "type": "ingest",
                        "input": {
                            "collection": "bench",
                            "chunk_tokens": 80,
                            "overlap_tokens": 0,
                            "documents": [
                                {"name": f"doc-{i}.md", "text": f"# Doc {i}\n\n" + parts}
                                for i in range(documents)
                            ],
                        },
                    }
                    headers = {"Authorization": "Bearer key-a-0123456789"}
                    started = time.perf_counter()
                    created = await http.post("/v1/jobs", json=body, headers=headers)
                    job_id = created.json()["id"]

                    async def status() -> dict[str, object]:
                        job: dict[str, object] = (
                            await http.get(f"/v1/jobs/{job_id}", headers=headers)
                        ).json()
                        return job

                    job = await eventually(
                        status,
                        until=lambda j: j["status"] == "completed",
                        timeout_s=600,
                        interval_s=0.2,
                        what="ingest",
                    )
                    took = time.perf_counter() - started
        result = job["result"]
        assert isinstance(result, dict)
        chunks = int(sum(d["chunks"] for d in result["documents"]))
        print(f"ingest: {documents} documents, {chunks} passages in {took:.1f} s")
        return chunks / took
    finally:
        await env.shutdown()


VOCABULARY = [f"w{i}" for i in range(5000)]


async def fill(stores: Stores, owner: str, size: int) -> None:
    await stores.collections.ensure(owner, "big", "bench", DIM)
    per_document = 200
    for d in range(size // per_document):
        cut = [
            Passage(i, " ".join(rng.choices(VOCABULARY, k=60)), (f"doc {d}",), 60)
            for i in range(per_document)
        ]
        vectors = {p.digest: unit(noise()) for p in cut}
        await stores.collections.replace_document(owner, "big", f"doc-{d}", None, cut, vectors)


async def search_latency(stores: Stores, size: int, queries: int) -> tuple[float, float]:
    owner = f"latency-{size}"
    started = time.perf_counter()
    await fill(stores, owner, size)
    print(f"filled {size} passages in {time.perf_counter() - started:.0f} s")
    took = []
    for _ in range(queries):
        query = " ".join(rng.choices(VOCABULARY, k=6))
        start = time.perf_counter()
        await stores.collections.search(owner, "big", query, unit(noise()), 8)
        took.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(took, n=100)
    return cuts[49], cuts[98]


async def recall(stores: Stores) -> dict[str, float]:
    owner = "recall"
    await stores.collections.ensure(owner, "facts", "bench", DIM)
    topics = [unit(noise()) for _ in range(50)]
    topic_words = [[f"topic{t}word{j}" for j in range(3)] for t in range(50)]
    passages: list[Passage] = []
    vectors: dict[str, list[float]] = {}
    own: list[list[float]] = []
    for i in range(400):
        t = i // 8
        body = f"The {' '.join(topic_words[t])} record of entity{i}x is kept on file."
        passage = Passage(i, body, (f"topic {t}",), 15)
        mine = unit(noise())
        vectors[passage.digest] = mix((1.0, topics[t]), (0.6, mine))
        own.append(mine)
        passages.append(passage)
    await stores.collections.replace_document(owner, "facts", "facts.md", None, passages, vectors)
    async with stores.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT position, id FROM collection_chunks WHERE owner = :o"), {"o": owner}
        )
        ids = {int(row.position): int(row.id) for row in rows}
    questions: list[tuple[str, list[float], int]] = []
    for q in range(200):
        i = rng.randrange(400)
        t = i // 8
        if q % 2 == 0:
            # Names the entity; its vector knows only the topic.
            questions.append(
                (
                    f"what is on file for entity{i}x",
                    mix((1.0, topics[t]), (0.6, unit(noise()))),
                    ids[i],
                )
            )
        else:
            # A paraphrase: near the passage's own vector, with only its topic's words.
            words = " ".join(topic_words[t])
            questions.append(
                (
                    f"tell me about the {words} one",
                    mix((1.0, topics[t]), (0.6, own[i]), (0.15, unit(noise()))),
                    ids[i],
                )
            )
    scores: dict[str, float] = {}
    modes: tuple[Literal["hybrid", "vector", "text"], ...] = ("hybrid", "vector", "text")
    for mode in modes:
        found = 0
        for question, vector, wanted in questions:
            hits = await stores.collections.search(owner, "facts", question, vector, 5, mode)
            found += any(h.chunk_id == wanted for h in hits)
        scores[mode] = found / len(questions)
    return scores


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    configure_logging("WARNING", json=True)
    with tempfile.TemporaryDirectory() as tmp:
        rate = await ingest_throughput(args.documents, Path(tmp))
        print(f"ingest throughput: {rate:.0f} passages/s (50 ms per embedding request)")
        async with embedded_stores(Path(tmp) / "pg-search") as (_, stores):
            for size in (int(s) for s in args.sizes.split(",")):
                p50, p99 = await search_latency(stores, size, args.queries)
                print(f"search at {size} passages: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            scores = await recall(stores)
            print(
                "recall@5 over 200 questions: "
                + ", ".join(f"{mode} {score:.2f}" for mode, score in scores.items())
            )


if __name__ == "__main__":
    asyncio.run(main())
