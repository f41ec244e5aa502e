"""Cost against the dev server: every call priced and in the ledger, `/v1/usage` adding up to
the jobs' costs, budgets that stop spending, and the owner's start quotas."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.fake_openai import FakeOpenAI, Reply

# The fake server answers every call with 10 input and 5 output tokens.
GPT_4O_MINI_CALL = 10 * 0.15e-6 + 5 * 0.6e-6
# An override that makes each fake-model call cost (10 + 5) * 1000 / 1e6 = $0.015.
EXPENSIVE = {"fake-model": (Decimal(1000), Decimal(1000))}
LONG_TEXT = " ".join(f"Sentence number {i} says something new." for i in range(40))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.model_prices = dict(EXPENSIVE)
    return settings


async def test_costs_are_priced_recorded_and_add_up_in_usage(
    api: Api, fake_openai: FakeOpenAI, stores: Stores
) -> None:
    """gpt-4o-mini calls cost what the price table says; the ledger has each call once; the
    owner's `/v1/usage` equals the sum of the jobs' costs."""
    short = await start_job(
        api.alice, {"type": "summarize", "input": {"text": "Short.", "model": "gpt-4o-mini"}}
    )
    chunked = await start_job(
        api.alice,
        {
            "type": "summarize",
            "input": {"text": LONG_TEXT, "chunk_chars": 400, "model": "gpt-4o-mini"},
        },
    )
    results = [(await wait_for(api.alice, j, "completed"))["result"] for j in (short, chunked)]
    assert results[0]["usage"]["cost_usd"] == pytest.approx(GPT_4O_MINI_CALL)
    calls = results[1]["usage"]["llm_calls"]
    assert calls > 2
    assert results[1]["usage"]["cost_usd"] == pytest.approx(calls * GPT_4O_MINI_CALL)
    assert len(await stores.ledger.for_job(chunked)) == calls

    report = (await api.alice.get("/v1/usage", params={"group_by": "model"})).json()
    [line] = report["groups"]
    assert (line["key"], line["calls"], line["unpriced_calls"]) == ("gpt-4o-mini", calls + 1, 0)
    assert line["cost_usd"] == pytest.approx(sum(r["usage"]["cost_usd"] for r in results))
    assert report["total"]["cost_usd"] == pytest.approx(line["cost_usd"])
    other = (await api.bob.get("/v1/usage")).json()
    assert other["total"]["calls"] == 0


async def test_a_budget_stops_a_summary_after_the_call_that_crossed_it(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """With one call at a time, the first call ($0.015) crosses max_cost_usd $0.01: no second
    call starts and the job fails with BudgetExceeded."""
    job_id = await start_job(
        api.alice,
        {
            "type": "summarize",
            "input": {"text": LONG_TEXT, "chunk_chars": 400, "max_parallel": 1},
            "options": {"max_cost_usd": 0.01},
        },
    )
    job = await wait_for(api.alice, job_id, "failed")
    assert job["error"]["type"] == "BudgetExceeded"
    assert "max_cost_usd ($0.01) reached" in job["error"]["message"]
    assert len(fake_openai.completed) == 1


async def test_a_budget_ends_an_agent_with_its_reason(api: Api, fake_openai: FakeOpenAI) -> None:
    """The agent's loop ends `budget_exhausted`, reason max_cost_usd, after the crossing step."""
    fake_openai.script(Reply.calls(("calculator", {"expression": "2+2"})), Reply.ok("Four."))
    job_id = await start_job(
        api.alice,
        {
            "type": "agent",
            "input": {"goal": "Add two and two.", "tools": ["calculator"]},
            "options": {"max_cost_usd": 0.01},
        },
    )
    result = (await wait_for(api.alice, job_id, "completed"))["result"]
    assert result["outcome"] == "budget_exhausted"
    assert result["reason"].startswith("max_cost_usd ($0.01) reached")
    assert len(fake_openai.completed) == 1


async def test_a_budget_needs_a_priced_model(api: Api) -> None:
    """max_cost_usd on a model without a price is a 422 at the door, not an unkept promise."""
    response = await api.alice.post(
        "/v1/jobs",
        json={
            "type": "summarize",
            "input": {"text": "Hi.", "model": "my-llama"},
            "options": {"max_cost_usd": 1},
        },
    )
    assert response.status_code == 422
    assert "has no known price" in response.json()["detail"][0]["msg"]


async def test_the_monthly_budget_refuses_new_starts_with_402(
    api: Api, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    """Once this month's calls reach the owner's budget, a start is 402 with spend and limit;
    another owner is unaffected."""
    alice = next(o for o in api.owners if o.startswith("alice-"))
    settings.owner_monthly_budget_usd = {alice: Decimal("0.01")}
    job_id = await start_job(api.alice, {"type": "summarize", "input": {"text": "Hi."}})
    await wait_for(api.alice, job_id, "completed")
    refused = await api.alice.post("/v1/jobs", json={"type": "summarize", "input": {"text": "x"}})
    assert refused.status_code == 402
    assert refused.json()["code"] == "budget_exhausted"
    assert "$0.0150" in refused.json()["message"]
    assert "monthly budget of $0.01" in refused.json()["message"]
    assert (
        await api.bob.post("/v1/jobs", json={"type": "summarize", "input": {"text": "x"}})
    ).status_code == 202


async def test_the_running_jobs_quota_answers_429(
    api: Api, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    """Past AIJOBS_OWNER_MAX_RUNNING, a start is 429 saying how many are running."""
    settings.owner_max_running = 1
    waiting = await start_job(api.alice, {"type": "draft_review", "input": {"brief": "Say hello."}})
    await wait_for(api.alice, waiting, "waiting_for_input")
    refused = await api.alice.post("/v1/jobs", json={"type": "summarize", "input": {"text": "x"}})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"
    assert refused.json()["message"].startswith("1 of your jobs are running; the limit is 1")
    await api.alice.post(f"/v1/jobs/{waiting}/cancel")


async def test_the_running_cap_is_exact_for_sequential_and_concurrent_starts(
    api: Api, fake_openai: FakeOpenAI, settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    """Cap 3: three draft reviews (each waiting for a reviewer) start one after another and
    the fourth is refused at once, not a second later; of six concurrent starts after one
    finished, exactly one is accepted; a job terminated without its final event stops
    counting when the owner reaches the cap again."""
    settings.owner_max_running = 3
    draft = {"type": "draft_review", "input": {"brief": "Say hello."}}
    started = [await start_job(api.alice, draft) for _ in range(3)]
    refused = await api.alice.post("/v1/jobs", json=draft)
    assert refused.status_code == 429, refused.text
    assert refused.json()["message"].startswith("3 of your jobs are running; the limit is 3")
    # A replay of a running job is not a new start: it answers, at the cap too.
    replayed = await api.alice.post(
        "/v1/jobs", json=draft, headers={"Idempotency-Key": "not-this-one"}
    )
    assert replayed.status_code == 429
    assert (await api.alice.post(f"/v1/jobs/{started[0]}/cancel")).status_code == 202
    await wait_for(api.alice, started[0], "cancelled")
    burst = await asyncio.gather(*(api.alice.post("/v1/jobs", json=draft) for _ in range(6)))
    assert sorted(r.status_code for r in burst) == [202, 429, 429, 429, 429, 429]
    # Terminated: no final event is written, yet at the cap Temporal is asked and it is let go.
    await dev_env.client.get_workflow_handle(started[1]).terminate("operator")
    assert (await api.alice.post("/v1/jobs", json=draft)).status_code == 202
    assert (await api.alice.post("/v1/jobs", json=draft)).status_code == 429
    assert (await api.bob.post("/v1/jobs", json=draft)).status_code == 202


async def test_the_same_job_again_costs_nothing_and_shows_the_saving(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    """A summary is asked at temperature 0, so the same job again is answered from the cache:
    no model call, cost 0, the hits and the saving in its usage and in `/v1/usage`."""
    job = {
        "type": "summarize",
        "input": {"text": LONG_TEXT, "chunk_chars": 400, "model": "gpt-4o-mini"},
    }
    first = (await wait_for(api.alice, await start_job(api.alice, job), "completed"))["result"]
    calls = len(fake_openai.requests)
    second = (await wait_for(api.alice, await start_job(api.alice, job), "completed"))["result"]
    assert len(fake_openai.requests) == calls
    assert second["summary"] == first["summary"]
    usage = second["usage"]
    assert (usage["llm_calls"], usage["cost_usd"]) == (0, 0.0)
    assert usage["cache_hits"] == first["usage"]["llm_calls"]
    assert usage["saved_cost_usd"] == pytest.approx(first["usage"]["cost_usd"])
    report = (await api.alice.get("/v1/usage")).json()["total"]
    assert (report["calls"], report["cache_hits"]) == (calls, calls)
    assert report["saved_cost_usd"] == pytest.approx(first["usage"]["cost_usd"])
    # Asked to refresh, the same job calls the model again.
    fresh = await start_job(api.alice, {**job, "options": {"cache": "refresh"}})
    await wait_for(api.alice, fresh, "completed")
    assert len(fake_openai.requests) == 2 * calls
