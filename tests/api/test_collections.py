"""Ingest and search through the API, against the fake embedding endpoint: documents in,
unchanged passages never embedded twice, a changed document's old passages gone, hybrid
search, and owner isolation on every collection route."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply

HANDBOOK = """# Leave

You get thirty days of leave. Ask your lead first.

# Expenses

Keep every receipt. The expense code is zebra-7731.
"""
OFFICE = """# Office

The office opens at nine and closes at six.
"""
TRAVEL = """# Travel

Book trains for trips under four hours. Flights need approval.
"""


def ingest(*documents: dict[str, Any], collection: str = "handbook") -> dict[str, Any]:
    return {"type": "ingest", "input": {"collection": collection, "documents": list(documents)}}


def embedded_texts(fake: FakeOpenAI) -> list[str]:
    return [t for r in fake.requests if r.path.endswith("/embeddings") for t in r.body["input"]]


async def run(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    job_id = await start_job(client, body)
    job = await wait_for(client, job_id, "completed")
    result: dict[str, Any] = job["result"]
    return result


async def test_ingest_embeds_each_passage_once_and_replaces_a_changed_document(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    first = await run(
        api.alice,
        ingest(
            {"name": "handbook.md", "text": HANDBOOK},
            {"name": "travel.md", "text": TRAVEL},
            {"name": "office.md", "text": OFFICE},
        ),
    )
    assert [(d["name"], d["status"], d["chunks"]) for d in first["documents"]] == [
        ("handbook.md", "ingested", 2),
        ("travel.md", "ingested", 1),
        ("office.md", "ingested", 1),
    ]
    assert first["embedding_model"] == "text-embedding-3-small"
    assert len(embedded_texts(fake_openai)) == 4
    assert first["usage"]["input_tokens"] > 0

    # The same travel.md again: nothing new to embed. A changed handbook: one passage.
    changed = HANDBOOK.replace("zebra-7731", "okapi-1184")
    again = await run(
        api.alice,
        ingest({"name": "handbook.md", "text": changed}, {"name": "travel.md", "text": TRAVEL}),
    )
    by_name = {d["name"]: d for d in again["documents"]}
    assert (by_name["travel.md"]["embedded"], by_name["travel.md"]["reused"]) == (0, 1)
    handbook = by_name["handbook.md"]
    assert (handbook["embedded"], handbook["added"], handbook["removed"]) == (1, 1, 1)
    assert len(embedded_texts(fake_openai)) == 5

    # A query the database cannot take is the caller's error, not the server's.
    nul = await api.alice.get("/v1/collections/handbook/search", params={"q": "a\x00b"})
    assert nul.status_code == 422, nul.text
    assert nul.json()["detail"][0]["loc"] == ["query", "q"]
    old = await api.alice.get("/v1/collections/handbook/search", params={"q": "zebra-7731"})
    assert all("zebra-7731" not in hit["text"] for hit in old.json()["hits"])
    new = await api.alice.get("/v1/collections/handbook/search", params={"q": "okapi-1184"})
    [top, *_] = new.json()["hits"]
    assert "okapi-1184" in top["text"]
    assert top["document"] == "handbook.md"
    assert top["headings"] == ["Expenses"]
    assert top["text_rank"] == 1

    detail = (await api.alice.get("/v1/collections/handbook")).json()
    assert (detail["documents"], detail["chunks"]) == (3, 4)
    assert {d["name"] for d in detail["document_list"]} == {"handbook.md", "travel.md", "office.md"}


async def test_a_document_that_fails_does_not_fail_the_others(api: Api) -> None:
    """An unreachable URL fails alone; the job completes with the other document."""
    result = await run(
        api.alice,
        ingest(
            {"name": "travel.md", "text": TRAVEL},
            {"url": "http://10.255.255.1/policy.html"},
            collection="mixed",
        ),
    )
    statuses = {d["name"]: d["status"] for d in result["documents"]}
    assert statuses == {"travel.md": "ingested", "http://10.255.255.1/policy.html": "failed"}
    failed = next(d for d in result["documents"] if d["status"] == "failed")
    assert "10.255.255.1" in failed["error"]


async def test_collections_are_the_owners_alone(api: Api) -> None:
    await run(api.alice, ingest({"name": "handbook.md", "text": HANDBOOK}))
    for method, path in [
        ("GET", "/v1/collections/handbook"),
        ("GET", "/v1/collections/handbook/search?q=leave"),
        ("DELETE", "/v1/collections/handbook"),
    ]:
        answer = await api.bob.request(method, path)
        assert answer.status_code == 404, (method, path)
        assert answer.json()["code"] == "collection_not_found"
    assert (await api.bob.get("/v1/collections")).json()["collections"] == []
    # Bob's own `handbook` is another collection: his search never sees alice's passages.
    await run(api.bob, ingest({"name": "travel.md", "text": TRAVEL}))
    hits = (await api.bob.get("/v1/collections/handbook/search?q=zebra-7731 leave")).json()
    assert {h["document"] for h in hits["hits"]} <= {"travel.md"}
    doc_id = (await api.alice.get("/v1/collections/handbook")).json()["document_list"][0]["id"]
    gone = await api.bob.delete(f"/v1/collections/handbook/documents/{doc_id}")
    assert gone.status_code == 404
    assert (
        await api.alice.delete(f"/v1/collections/handbook/documents/{doc_id}")
    ).status_code == 204
    assert (await api.alice.delete("/v1/collections/handbook")).status_code == 204
    assert (await api.alice.get("/v1/collections/handbook")).status_code == 404


async def test_bad_ingest_starts_are_422(api: Api) -> None:
    await run(api.alice, ingest({"name": "travel.md", "text": TRAVEL}, collection="fixed"))
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (
            ingest({"name": "a", "text": "x"}, collection="Bad Name"),
            ["body", "input", "collection"],
        ),
        (ingest({"text": "no name"}), ["body", "input", "documents", 0]),
        (ingest({"id": "doc-nope"}), ["body", "input", "documents", 0, "id"]),
        (
            ingest({"name": "a", "text": "x"}, {"name": "a", "text": "y"}),
            ["body", "input", "documents", 1],
        ),
        (
            {
                "type": "ingest",
                "input": {
                    "collection": "fixed",
                    "documents": [{"name": "a", "text": "x"}],
                    "embedding_model": "text-embedding-3-large",
                },
            },
            ["body", "input", "embedding_model"],
        ),
    ]
    for body, loc in cases:
        refused = await api.alice.post("/v1/jobs", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"][0]["loc"][: len(loc)] == loc, refused.json()
    mixed = await api.alice.post("/v1/jobs", json=cases[-1][0])
    assert "text-embedding-3-small" in mixed.json()["message"]
    assert "text-embedding-3-large" in mixed.json()["message"]


async def test_an_agent_searches_the_collections_it_names_and_no_other(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """search_documents reads the named collection (hybrid); bob cannot name alice's."""
    await run(api.alice, ingest({"name": "handbook.md", "text": HANDBOOK}))
    fake_openai.script(
        Reply.calls(("search_documents", {"query": "expense code"})),
        Reply.ok("The code is zebra-7731."),
    )
    agent = {
        "type": "agent",
        "input": {
            "goal": "Find the expense code.",
            "tools": ["search_documents"],
            "collections": ["handbook"],
        },
    }
    job_id = await start_job(api.alice, agent)
    job = await wait_for(api.alice, job_id, "completed")
    assert job["result"]["answer"] == "The code is zebra-7731."
    # What the tool returned went back to the model in the next step.
    follow_up = [r.body for r in fake_openai.requests if r.path.endswith("/chat/completions")][-1]
    tool_message = next(m for m in follow_up["messages"] if m["role"] == "tool")
    assert "handbook/handbook.md" in tool_message["content"]
    assert "zebra-7731" in tool_message["content"]
    refused = await api.bob.post("/v1/jobs", json=agent)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "input", "collections", 0]
