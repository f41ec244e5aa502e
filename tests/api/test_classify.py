"""The `classify` job through the API: validated at the door, its confirmation answered over
HTTP (unlisted items and labels refused with 422), its progress and result as documented."""

from __future__ import annotations

import pytest

from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI
from tests.support.record_history import label_support_tickets

pytestmark = pytest.mark.e2e

ITEMS = ["My invoice is wrong.", "I want my money back.", "Where is my parcel?"]
CLASSIFY = {
    "type": "classify",
    "input": {"items": ITEMS, "labels": ["billing", "refund", "shipping"], "confirm_below": 0.5},
}


async def test_a_person_confirms_the_unsure_items_over_http(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """The job waits with a `confirm` question listing the unsure item; answers naming an
    unlisted index, an unknown label or leaving the item out are 422; a fitting answer
    completes the job, and the result names who confirmed."""
    fake_openai.responder = label_support_tickets
    job_id = await start_job(api.alice, CLASSIFY)
    job = await wait_for(api.alice, job_id, "waiting_for_input")
    question = job["waiting_for"]
    assert question["name"] == "confirm"
    assert [item["index"] for item in question["context"]["items"]] == [1]
    assert job["progress"]["stage"] == "confirming"
    assert (job["progress"]["completed"], job["progress"]["total"]) == (3, 3)
    for labels in ({"0": "billing", "1": "refund"}, {"1": "spam"}, {}):
        refused = await api.alice.post(
            f"/v1/jobs/{job_id}/input", json={"name": "confirm", "value": {"labels": labels}}
        )
        assert refused.status_code == 422, refused.text
    taken = await api.alice.post(
        f"/v1/jobs/{job_id}/input", json={"name": "confirm", "value": {"labels": {"1": "refund"}}}
    )
    assert taken.status_code == 200, taken.text
    done = await wait_for(api.alice, job_id, "completed")
    items = done["result"]["items"]
    assert [(i["label"], i["confirmed_by"]) for i in items] == [
        ("billing", None),
        ("refund", api.owners[0]),
        ("shipping", None),
    ]
    assert set(items[0]) == {"index", "text", "label", "confidence", "confirmed_by"}
    assert done["result"]["models"] == ["fake-model"]
    assert done["result"]["usage"]["llm_calls"] == 4  # three items and one repair
    assert done["progress"]["stage"] == "done"
    assert (await api.bob.get(f"/v1/jobs/{job_id}")).status_code == 404


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"labels": ["only"]}, "at least 2"),
        ({"labels": ["a", "a"]}, "labels must be unique"),
        ({"items": []}, "at least 1"),
        ({"items": ["x"] * 501}, "at most 500"),
        ({"confirm_below": 1.5}, "less than or equal to 1"),
        ({"labels": ["a", "b\u0000"]}, "NUL"),
    ],
)
async def test_bad_classify_inputs_are_422_naming_the_problem(
    api: Api, change: dict[str, object], says: str
) -> None:
    """Each bad input is refused at the door with a message that says what is wrong."""
    body = {"type": "classify", "input": {**CLASSIFY["input"], **change}}  # type: ignore[dict-item]
    response = await api.alice.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    assert says in response.text


async def test_classify_is_listed_with_the_other_job_types(api: Api) -> None:
    """The one declaration in its contract is all the API needs to offer the job type."""
    listed = {t["name"]: t for t in (await api.alice.get("/v1/job-types")).json()}
    assert {"summarize", "draft_review", "agent", "extract", "classify"} <= set(listed)
    assert listed["classify"]["accepts_input"] is True
