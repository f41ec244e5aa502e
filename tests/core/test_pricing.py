"""Prices: the maintained table, overrides for models it lacks, and no guessed price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.pricing import ModelPrices
from tests.conftest import make_settings


def test_gpt_4o_mini_costs_what_the_price_table_says() -> None:
    """$0.15 per million input tokens and $0.60 per million output tokens."""
    prices = ModelPrices()
    assert prices.cost("gpt-4o-mini", 1_000_000, 0) == Decimal("0.15")
    assert prices.cost("gpt-4o-mini", 0, 1_000_000) == Decimal("0.6")
    assert prices.cost("gpt-4o-mini", 1000, 500) == Decimal("0.00045")


def test_an_unknown_model_has_no_price_until_one_is_given() -> None:
    """Never a guess: None for an unlisted model, the override once configured."""
    assert ModelPrices().cost("my-llama", 1000, 1000) is None
    settings = make_settings(model_prices="my-llama=0.2/0.8")
    prices = ModelPrices(settings.model_prices)
    assert prices.cost("my-llama", 1_000_000, 1_000_000) == Decimal("1.0")
    assert prices.cost("offline", 5000, 5000) == Decimal(0)


@pytest.mark.parametrize("raw", ["my-llama=0.2", "my-llama=x/1", "=1/2", "my-llama=-1/2"])
def test_malformed_prices_are_refused_at_start(raw: str) -> None:
    """A price that is not `input/output` dollars stops the process with the entry named."""
    with pytest.raises(ValidationError, match=r"AIJOBS_MODEL_PRICES|dollars"):
        make_settings(model_prices=raw)


def test_monthly_budgets_parse_per_owner() -> None:
    """`owner=dollars,...`."""
    settings = make_settings(owner_monthly_budget_usd="alice=100, bob=2.5")
    assert settings.owner_monthly_budget_usd == {"alice": Decimal(100), "bob": Decimal("2.5")}
