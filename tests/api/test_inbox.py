"""Reviewers through the API: they see only the questions of jobs granted to their groups,
claim them, answer them (recorded as theirs), are told of each new question, and can do
nothing else with their key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.config import Settings, parse_reviewers
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.webhook import Webhook

MARIA_KEY = "maria-key-0123456789abcdef"
OMAR_KEY = "omar-key-0123456789abcdefgh"
LENA_KEY = "lena-key-0123456789abcdefgh"
# Groups are the deployment's, and the dev server is shared by the session: each test's are
# its own (`legal-<queue>`), so no test sees another's questions.
GROUPS: dict[str, str] = {}


def draft_for(*groups: str) -> dict[str, Any]:
    return {
        "type": "draft_review",
        "input": {"brief": "Announce the picnic."},
        "options": {"reviewers": [GROUPS[g] for g in groups]},
    }


@pytest.fixture
def receiver() -> Iterator[Webhook]:
    with Webhook().running() as hook:
        yield hook


@pytest.fixture(autouse=True)
def reviewers(settings: Settings, receiver: Webhook, task_queue: str) -> None:
    GROUPS.update({g: f"{g}-{task_queue[-12:]}" for g in ("legal", "support", "marketing")})
    reviewers = {
        "maria": {"key": MARIA_KEY, "groups": [GROUPS["legal"], GROUPS["support"]]},
        "omar": {"key": OMAR_KEY, "groups": [GROUPS["legal"]]},
        "lena": {"key": LENA_KEY, "groups": [GROUPS["marketing"]]},
    }
    settings.reviewers = parse_reviewers(json.dumps(reviewers))
    settings.notify_webhook = receiver.url


def as_key(api: Api, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


async def inbox_of(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        answer = await client.get("/v1/inbox")
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    return await eventually(read, until=lambda items: len(items) == count, what=f"{count} items")


async def test_a_reviewer_sees_only_what_their_groups_were_given(api: Api) -> None:
    """Legal's job shows to maria and omar, marketing's to lena alone; other jobs to none."""
    legal = await start_job(api.alice, draft_for("legal"))
    marketing = await start_job(api.alice, draft_for("marketing"))
    await start_job(api.alice, {**draft_for(), "options": {}})
    async with as_key(api, MARIA_KEY) as maria, as_key(api, LENA_KEY) as lena:
        [item] = await inbox_of(maria, 1)
        assert item["job_id"] == legal
        assert item["name"] == "review"
        assert item["groups"] == [GROUPS["legal"]]
        assert item["schema"]["properties"]["decision"]
        assert item["context"]["draft"]
        [theirs] = await inbox_of(lena, 1)
        assert theirs["job_id"] == marketing
        # A job not granted to them is 404, as a stranger's job is to an owner.
        refused = await lena.post(
            f"/v1/jobs/{legal}/input",
            json={"name": "review", "value": {"decision": "approve"}},
        )
        assert refused.status_code == 404
        bad_group = await maria.get("/v1/inbox", params={"group": GROUPS["marketing"]})
        assert bad_group.status_code == 422
    for job_id in (legal, marketing):
        await api.alice.post(f"/v1/jobs/{job_id}/cancel")


async def test_the_inbox_pages_and_filters_by_type(api: Api, fake_openai: FakeOpenAI) -> None:
    """Two questions, one per page in deadline order; `type` narrows to the agent's."""
    fake_openai.script(Reply.calls(("create_ticket", {"title": "Printer", "body": "Jammed."})))
    agent = {
        "type": "agent",
        "input": {"goal": "File a ticket.", "tools": ["create_ticket"]},
        "options": {"reviewers": [GROUPS["legal"]]},
    }
    second = await start_job(api.alice, agent)
    await wait_for(api.alice, second, "waiting_for_input")
    first = await start_job(api.alice, draft_for("legal"))
    async with as_key(api, OMAR_KEY) as omar:
        both = await inbox_of(omar, 2)
        assert [i["deadline"] for i in both] == sorted(i["deadline"] for i in both)
        page = (await omar.get("/v1/inbox", params={"limit": 1})).json()
        assert [i["job_id"] for i in page["items"]] == [both[0]["job_id"]]
        rest = await omar.get(
            "/v1/inbox", params={"limit": 1, "page_token": page["next_page_token"]}
        )
        assert [i["job_id"] for i in rest.json()["items"]] == [both[1]["job_id"]]
        assert rest.json()["next_page_token"] is None
        borrowed = await api.bob.get("/v1/jobs", params={"page_token": page["next_page_token"]})
        assert borrowed.status_code == 422
        agents = (await omar.get("/v1/inbox", params={"type": "agent"})).json()["items"]
        assert [i["job_id"] for i in agents] == [second]
    for job_id in (first, second):
        await api.alice.post(f"/v1/jobs/{job_id}/cancel")


async def test_a_reviewer_key_answers_and_does_nothing_else(api: Api) -> None:
    """It cannot start jobs, read them, list them or use the codec; its answer is recorded
    as the reviewer's, through the API."""
    job_id = await start_job(api.alice, draft_for("legal"))
    async with as_key(api, OMAR_KEY) as omar:
        for method, path, body in [
            ("POST", "/v1/jobs", SUMMARIZE),
            ("GET", f"/v1/jobs/{job_id}", None),
            ("GET", "/v1/jobs", None),
            ("GET", "/v1/usage", None),
            ("GET", "/v1/schedules", None),
        ]:
            answer = await omar.request(method, path, json=body)
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["code"] == "forbidden"
        codec = await omar.post("/codec/decode", json={"payloads": []})
        assert codec.status_code == 401
        [item] = await inbox_of(omar, 1)
        answered = await omar.post(
            f"/v1/jobs/{job_id}/input",
            json={
                "name": "review",
                "value": {"decision": "approve"},
                "question_id": item["question_id"],
            },
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["answered_by"] == "omar"
    job = await wait_for(api.alice, job_id, "completed")
    assert job["result"]["rounds"][0]["reviewed"]["answered_by"] == "omar"
    assert job["result"]["rounds"][0]["reviewed"]["via"] == "api"
    owners = await api.alice.get("/v1/inbox")
    assert owners.status_code == 403


async def test_a_claim_keeps_others_off_until_released(api: Api) -> None:
    """Omar's claim shows to maria; her answer is a 409 naming him, until he releases it."""
    job_id = await start_job(api.alice, draft_for("legal"))
    async with as_key(api, OMAR_KEY) as omar, as_key(api, MARIA_KEY) as maria:
        [item] = await inbox_of(omar, 1)
        question = item["question_id"]
        claimed = await omar.post(f"/v1/inbox/{question}/claim")
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["claimed_by"] == "omar"
        [seen] = await inbox_of(maria, 1)
        assert seen["claimed_by"] == "omar"
        taken = await maria.post(f"/v1/inbox/{question}/claim")
        assert taken.status_code == 409
        assert "omar" in taken.json()["message"]
        answer = {"name": "review", "value": {"decision": "reject"}, "question_id": question}
        blocked = await maria.post(f"/v1/jobs/{job_id}/input", json=answer)
        assert blocked.status_code == 409
        assert "claimed by omar" in blocked.json()["message"]
        released = await omar.post(f"/v1/inbox/{question}/release")
        assert released.json()["claimed_by"] is None
        answered = await maria.post(f"/v1/jobs/{job_id}/input", json=answer)
        assert answered.status_code == 200, answered.text
        lena_claim = await maria.post("/v1/inbox/no-such-question/claim")
        assert lena_claim.status_code == 404
    await wait_for(api.alice, job_id, "completed")


async def test_each_question_is_told_to_its_groups_with_a_link(api: Api, receiver: Webhook) -> None:
    """The notify webhook hears of a question asked of reviewer groups, with its page."""
    job_id = await start_job(api.alice, draft_for("legal", "support"))

    async def told() -> list[dict[str, Any]]:
        return [post.body for post in receiver.received]

    [note] = await eventually(told, what="a notification")
    assert note["event"] == "asked"
    assert note["job_id"] == job_id
    assert note["groups"] == [GROUPS["legal"], GROUPS["support"]]
    assert note["link"].endswith(f"/inbox/questions/{note['question_id']}")
    await api.alice.post(f"/v1/jobs/{job_id}/cancel")


async def test_a_start_naming_an_unknown_group_is_422(api: Api) -> None:
    """A typo in a group would leave a job nobody can see."""
    typo = {**draft_for(), "options": {"reviewers": ["legl"]}}
    refused = await api.alice.post("/v1/jobs", json=typo)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "options", "reviewers", 0]
    assert GROUPS["legal"] in refused.json()["message"]
