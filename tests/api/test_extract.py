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


async def test_a_stored_document_is_read_again_by_its_id(api: Api) -> None:
    """Each item names its document's id; a later job sends only the id and reads the same
    text, and another owner's id is unknown to the caller."""
    first = await start_job(
        api.alice,
        {
            "type": "extract",
            "input": {
                "documents": [{"name": "inv-1.txt", "text": "The vendor is Acme. The total is 7."}],
                "schema": SCHEMA,
                "model": "offline",
            },
        },
    )
    [item] = (await wait_for(api.alice, first, "completed"))["result"]["items"]
    assert item["document_id"].startswith("doc-")

    again = await start_job(
        api.alice,
        {
            "type": "extract",
            "input": {
                "documents": [{"id": item["document_id"]}],
                "schema": SCHEMA,
                "model": "offline",
            },
        },
    )
    [reread] = (await wait_for(api.alice, again, "completed"))["result"]["items"]
    assert (reread["document"], reread["document_id"]) == ("inv-1.txt", item["document_id"])
    assert reread["data"] == item["data"] == {"vendor": "The vendor is Acme.", "total": 7}

    stranger = await api.bob.post(
        "/v1/jobs",
        json={
            "type": "extract",
            "input": {"documents": [{"id": item["document_id"]}], "schema": SCHEMA},
        },
    )
    assert stranger.status_code == 422
    [error] = stranger.json()["detail"]
    assert error["loc"] == ["body", "input", "documents", 0, "id"]
    assert "no stored document" in error["msg"]


async def test_a_document_needs_text_or_an_id_but_not_both(api: Api) -> None:
    cases = {
        "neither": {"name": "a.txt"},
        "both": {"name": "a.txt", "text": "x", "id": "doc-" + "0" * 32},
        "malformed id": {"id": "../etc/passwd"},
    }
    for case, document in cases.items():
        response = await api.alice.post(
            "/v1/jobs",
            json={"type": "extract", "input": {"documents": [document], "schema": SCHEMA}},
        )
        assert response.status_code == 422, case
        [error] = response.json()["detail"]
        assert error["loc"][:4] == ["body", "input", "documents", 0], case
