"""The answer job through the API: retrieval as its own step, an answer streamed as tokens,
citations checked against their passages (the false ones dropped and counted), and an honest
`grounded: false` when the documents do not answer."""

from __future__ import annotations

import json
import re
from typing import Any

from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply

HANDBOOK = """# Leave

You get thirty days of leave. Ask your lead first.

# Expenses

Keep every receipt. The expense code is zebra-7731.
"""


async def ingested(api: Api) -> None:
    job_id = await start_job(
        api.alice,
        {
            "type": "ingest",
            "input": {"collection": "handbook", "documents": [{"name": "h.md", "text": HANDBOOK}]},
        },
    )
    await wait_for(api.alice, job_id, "completed")


def chunk_of(request: dict[str, Any], heading: str) -> int:
    prompt = request["messages"][-1]["content"]
    found = re.search(rf"\[chunk (\d+)\] h\.md > {heading}", prompt)
    assert found, prompt
    return int(found.group(1))


async def test_an_answer_cites_its_passages_and_false_citations_are_dropped(
    api: Api, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    await ingested(api)

    def answer(request: dict[str, Any]) -> Reply:
        expenses = chunk_of(request, "Expenses")
        return Reply.ok(
            json.dumps(
                {
                    "answer": "The expense code is zebra-7731.",
                    "grounded": True,
                    "citations": [
                        {"chunk": expenses, "quote": "The expense  code is zebra-7731."},
                        {"chunk": expenses, "quote": "The code is okapi-1184."},
                        {"chunk": 999999999, "quote": "Keep every receipt."},
                    ],
                }
            )
        )

    fake_openai.responder = answer
    job_id = await start_job(
        api.alice,
        {"type": "answer", "input": {"collection": "handbook", "question": "What is the code?"}},
    )
    job = await wait_for(api.alice, job_id, "completed")
    result = job["result"]
    assert result["grounded"] is True
    assert result["answer"] == "The expense code is zebra-7731."
    [citation] = result["citations"]
    assert citation["document"] == "h.md"
    assert result["dropped_citations"] == 2
    assert citation["chunk"] in result["chunk_ids"]

    events = [e.data for e in await stores.events.read(job_id, after=-1)]
    [retrieved] = [e for e in events if e["type"] == "retrieved"]
    assert retrieved["chunk_ids"] == result["chunk_ids"]
    streamed = "".join(e["text"] for e in events if e["type"] == "token" and e["step"] == "answer")
    assert streamed == "The expense code is zebra-7731."


async def test_an_unanswerable_question_ends_grounded_false(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    await ingested(api)
    fake_openai.script(
        Reply.ok(json.dumps({"answer": "Maybe blue.", "grounded": False, "citations": []}))
    )
    job_id = await start_job(
        api.alice,
        {"type": "answer", "input": {"collection": "handbook", "question": "Office colour?"}},
    )
    result = (await wait_for(api.alice, job_id, "completed"))["result"]
    assert result["grounded"] is False
    assert "do not answer" in result["answer"]
    assert result["citations"] == []


async def test_a_question_for_no_collection_is_422(api: Api) -> None:
    refused = await api.alice.post(
        "/v1/jobs", json={"type": "answer", "input": {"collection": "none", "question": "q"}}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "input", "collection"]
