"""Pricing each model answer and recording it in the ledger the moment it arrives."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from temporalio import activity

from activities.database_waits import until_stored
from core.contracts.llm import TokenUsage
from core.jobs import JOB_TYPE_OF_WORKFLOW
from core.pricing import ModelPrices
from store import Ledger
from store.ledger import Charge


@dataclass(frozen=True)
class Bill:
    """An answer's usage as the job sees it (with its cost) and its line for the ledger."""

    usage: TokenUsage
    charge: Charge


class Billing:
    """Called right after the provider answered, before anything else can fail: an attempt
    that fails later (and is retried, and billed again) is still counted, once."""

    def __init__(self, ledger: Ledger, prices: ModelPrices) -> None:
        self._ledger = ledger
        self._prices = prices

    def bill(
        self,
        owner: str | None,
        requested: str,
        answered: str,
        usage: TokenUsage,
        part: str | None = None,
    ) -> Bill:
        """`usage` with its cost, and the attempt's ledger line (`part`: the call's name in
        a batch). Overrides are looked up by the model the job asked for, the price table
        also by the one that answered."""
        cost = self._price(requested, answered, usage)
        priced = usage.model_copy(update={"cost_usd": None if cost is None else float(cost)})
        return Bill(priced, self._charge(owner, answered, usage, cost, part))

    def bill_saving(
        self,
        owner: str | None,
        requested: str,
        answered: str,
        original: TokenUsage,
        part: str | None = None,
    ) -> Bill:
        """A cache hit: no tokens, no cost; the ledger and the usage record what it saved."""
        saved = self._price(requested, answered, original) or Decimal(0)
        free = TokenUsage(cache_hits=1, saved_cost_usd=float(saved))
        charge = self._charge(owner, answered, free, Decimal(0), part)
        return Bill(free, replace(charge, cache_hit=True, saved_cost_usd=saved))

    async def charge(
        self, owner: str | None, requested: str, answered: str, usage: TokenUsage
    ) -> TokenUsage:
        """Bill an answer and record its line on its own."""
        bill = self.bill(owner, requested, answered, usage)
        await until_stored(lambda: self._ledger.record(bill.charge), "ledger line")
        return bill.usage

    def _price(self, requested: str, answered: str, usage: TokenUsage) -> Decimal | None:
        cost = self._prices.cost(requested, usage.input_tokens, usage.output_tokens)
        if cost is None and answered != requested:
            cost = self._prices.cost(answered, usage.input_tokens, usage.output_tokens)
        return cost

    @staticmethod
    def _charge(
        owner: str | None, model: str, usage: TokenUsage, cost: Decimal | None, part: str | None
    ) -> Charge:
        info = activity.info()
        key = f"{info.workflow_run_id}/{info.activity_id}/{info.attempt}"
        return Charge(
            key=key if part is None else f"{key}/{part}",
            owner=owner,
            job_id=info.workflow_id or "",
            job_type=JOB_TYPE_OF_WORKFLOW.get(info.workflow_type or "", info.workflow_type or ""),
            model=model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost,
        )
