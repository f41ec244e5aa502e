"""Billing: each attempt the provider answered is in the ledger once, priced or honestly not."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.billing import Billing
from core.contracts.llm import TokenUsage
from store import Stores

USAGE = TokenUsage(input_tokens=1000, output_tokens=500, llm_calls=1)


async def test_every_paid_attempt_is_counted_once(stores: Stores, billing: Billing) -> None:
    """Attempt 1 was answered but its result was lost (the worker died); attempt 2 paid again.
    Both are in the ledger; recording attempt 2 twice (a retried write) keeps one line."""
    job = f"job-{uuid.uuid4().hex}"

    @activity.defn(name="complete_chat")
    async def charged() -> TokenUsage:
        return await billing.charge("alice", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", USAGE)

    for attempt in (1, 2, 2):
        env = ActivityEnvironment()
        env.info = replace(
            env.info,
            workflow_id=job,
            workflow_run_id="run-1",
            activity_id="3",
            attempt=attempt,
            workflow_type="SummarizeWorkflow",
        )
        usage = await env.run(charged)
        assert usage.cost_usd == 0.00045

    lines = await stores.ledger.for_job(job)
    assert [(c.key, c.owner, c.job_type) for c in lines] == [
        ("run-1/3/1", "alice", "summarize"),
        ("run-1/3/2", "alice", "summarize"),
    ]
    assert {c.cost_usd for c in lines} == {Decimal("0.00045")}


async def test_an_unpriced_model_is_counted_without_a_price(
    stores: Stores, billing: Billing
) -> None:
    """Tokens and calls are recorded; the cost is null, never a guess."""
    job = f"job-{uuid.uuid4().hex}"

    @activity.defn(name="complete_chat")
    async def charged() -> TokenUsage:
        return await billing.charge("alice", "my-llama", "my-llama", USAGE)

    env = ActivityEnvironment()
    env.info = replace(env.info, workflow_id=job)
    assert (await env.run(charged)).cost_usd is None
    [line] = await stores.ledger.for_job(job)
    assert (line.cost_usd, line.input_tokens) == (None, 1000)
