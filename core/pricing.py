"""What a model call cost: the maintained `genai-prices` table, overridable per model.

A model neither the table nor the overrides know costs `None`, never a guessed price.
"""

from __future__ import annotations

from decimal import Decimal

from genai_prices import Usage, calc_price

PER_MILLION = Decimal(1_000_000)
# The built-in offline model runs in the worker and costs nothing.
FREE_MODELS = frozenset({"offline"})


class ModelPrices:
    def __init__(self, overrides: dict[str, tuple[Decimal, Decimal]] | None = None) -> None:
        """`overrides`: model name -> (input, output) dollars per million tokens."""
        self._overrides = overrides or {}
        # A miss searches the whole table (a few ms): models it does not know are remembered.
        self._unknown: set[str] = set()

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
        if model in FREE_MODELS:
            return Decimal(0)
        if model in self._overrides:
            per_input, per_output = self._overrides[model]
            return (per_input * input_tokens + per_output * output_tokens) / PER_MILLION
        if model in self._unknown:
            return None
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        try:
            price = calc_price(usage, model_ref=model)
        except LookupError:
            try:
                # The table's provider matching misses some of OpenAI's own models (its
                # embedding models): the API here speaks OpenAI's protocol, so ask for its.
                price = calc_price(usage, model_ref=model, provider_id="openai")
            except LookupError:
                self._unknown.add(model)
                return None
        return price.total_price

    def knows(self, model: str) -> bool:
        return self.cost(model, 1, 1) is not None
