"""The worker's model series, through the Temporal SDK's own meter: they are served on the
same Prometheus endpoint as the SDK's metrics (AIJOBS_WORKER_METRICS_PORT), labelled with the
activity and workflow type and the model, never an owner or a prompt."""

from __future__ import annotations

from temporalio import activity
from temporalio.common import MetricMeter

from core.contracts.llm import AnswerSource, TokenUsage


def _meter(model: str) -> MetricMeter:
    return activity.metric_meter().with_additional_attributes({"model": model})


def answered(model: str, source: AnswerSource, usage: TokenUsage) -> None:
    meter = _meter(model)
    meter.create_counter(
        "aijobs_model_answers", "Model answers, by where they came from (model, cache, journal)."
    ).add(1, {"source": source})
    tokens = meter.create_counter("aijobs_model_tokens", "Tokens billed by the model.")
    tokens.add(usage.input_tokens, {"direction": "input"})
    tokens.add(usage.output_tokens, {"direction": "output"})
    if source == "cache":
        meter.create_counter("aijobs_model_cache_hits", "Answers served from the cache.").add(1)
    if usage.cost_usd:
        meter.create_histogram_float(
            "aijobs_model_cost_usd", "Dollars per model answer (its _sum is the spend).", "USD"
        ).record(usage.cost_usd)
    if usage.saved_cost_usd:
        meter.create_histogram_float(
            "aijobs_model_saved_usd", "Dollars a cache hit saved.", "USD"
        ).record(usage.saved_cost_usd)


def failed(model: str, error_type: str) -> None:
    _meter(model).create_counter(
        "aijobs_model_failures", "Model calls that failed, by error type."
    ).add(1, {"error_type": error_type})


def retried(model: str) -> None:
    """A model step's attempt after the first (Temporal retrying it)."""
    _meter(model).create_counter("aijobs_model_retries", "Model steps attempted again.").add(1)


def rate_limit_wait(model: str, seconds: float) -> None:
    _meter(model).create_histogram_float(
        "aijobs_model_rate_limit_wait_seconds",
        "Time a call waited for the fleet's limit or a provider's 429.",
        "s",
    ).record(seconds)
