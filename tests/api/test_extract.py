"""The `extract` job over HTTP: a bad schema is a 422 at the door, and the offline model
answers with schema-valid data, so the walkthrough needs no key."""

from __future__ import annotations

from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api

SCHEMA = {
    "type": "object",
    "properties": {"vendor": {"type": "string"}, "total": {"type": "number"}},
    "required": ["vendor", "total"],
}


async def test_a_bad_schema_is_refused_at_the_door(api: Api) -> None:
    """Not a JSON Schema: 422 naming where, before anything starts."""
    response = await api.alice.post(
        "/v1/jobs",
        json={
            "type": "extract",
            "input": {"documents": [{"name": "a", "text": "b"}], "schema": {"type": "banana"}},
        },
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][:3] == ["body", "input", "schema"]
    assert "not a valid JSON Schema" in error["msg"]


async def test_the_offline_model_extracts_schema_valid_data(api: Api) -> None:
    """With `offline`, each document gets an object that fits the schema, read from its text."""
    job_id = await start_job(
        api.alice,
        {
            "type": "extract",
            "input": {
                "documents": [
                    {"name": "inv-1.txt", "text": "The vendor is Acme. The total is 120.5."},
                    {"name": "inv-2.txt", "text": "Vendor Globex sent a total of 80."},
                ],
                "schema": SCHEMA,
                "model": "offline",
            },
        },
    )
    result = (await wait_for(api.alice, job_id, "completed"))["result"]
    assert [i["status"] for i in result["items"]] == ["ok", "ok"]
    assert result["items"][0]["data"] == {"vendor": "The vendor is Acme.", "total": 120.5}
    assert result["items"][1]["data"]["total"] == 80
    assert result["models"] == ["offline"]
