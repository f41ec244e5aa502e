"""Retrieval with no key at all, as on a fresh machine: the offline model embeds by words and
answers extractively from the passages, with citations."""

from __future__ import annotations

import pytest

from core.config import Settings
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api

POLICY = """# Refunds

Refunds are accepted within thirty days of purchase. Bring the receipt.

# Shipping

Parcels arrive within three working days.
"""


@pytest.fixture(autouse=True)
def offline(settings: Settings) -> None:
    settings.openai_base_url = None
    settings.openai_api_key = None


async def test_ingest_search_and_answer_work_offline(api: Api) -> None:
    ingest = {
        "type": "ingest",
        "input": {"collection": "policy", "documents": [{"name": "policy.md", "text": POLICY}]},
    }
    done = await wait_for(api.alice, await start_job(api.alice, ingest), "completed")
    assert done["result"]["embedding_model"] == "offline"
    found = await api.alice.get("/v1/collections/policy/search", params={"q": "refunds receipt"})
    assert found.json()["hits"][0]["headings"] == ["Refunds"]

    question = {"collection": "policy", "question": "How long do refunds take?"}
    job_id = await start_job(api.alice, {"type": "answer", "input": question})
    result = (await wait_for(api.alice, job_id, "completed"))["result"]
    assert result["grounded"] is True
    assert result["model"] == "offline"
    assert "thirty days" in result["answer"]
    assert any("thirty days" in c["quote"] for c in result["citations"])

    nothing = {"collection": "policy", "question": "zzz qqq?"}
    job_id = await start_job(api.alice, {"type": "answer", "input": nothing})
    result = (await wait_for(api.alice, job_id, "completed"))["result"]
    assert result["grounded"] is False
