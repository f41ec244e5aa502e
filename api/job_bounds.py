"""Bounds a job must fit before it starts: its planned model calls, its model, its budget."""

from __future__ import annotations

from ipaddress import ip_address

import httpx

from core.addresses import non_public
from core.config import Settings
from core.contracts.options import JobOptions
from core.contracts.plan import JobInput
from core.errors import InvalidInput
from core.pricing import ModelPrices


def with_defaults(job_input: JobInput, options: JobOptions, settings: Settings) -> JobOptions:
    """The job's options, with the deployment's fallback chain for its model unless it gave
    its own."""
    if options.fallback_models:
        return options
    model = getattr(job_input, "model", None) or settings.model
    chain = settings.fallback_models.get(model)
    return options.model_copy(update={"fallback_models": chain}) if chain else options


def check_bounds(job_input: JobInput, options: JobOptions, settings: Settings) -> None:
    """InvalidInput (422), with the numbers, for a job that may not start."""
    model = getattr(job_input, "model", None)
    _check_allowed(model, ("body", "input", "model"), settings)
    for index, fallback in enumerate(options.fallback_models):
        _check_allowed(fallback, ("body", "options", "fallback_models", index), settings)
    if options.max_cost_usd is not None:
        used = model or ("offline" if settings.uses_offline_model else settings.model)
        if not ModelPrices(settings.model_prices).knows(used):
            raise InvalidInput(
                ("body", "options", "max_cost_usd"),
                f"model {used!r} has no known price, so a cost budget cannot be kept: give "
                "its price in AIJOBS_MODEL_PRICES or drop max_cost_usd",
            )
    if options.webhook is not None:
        _check_webhook_url(options.webhook.url, settings)
    for index, group in enumerate(options.reviewers):
        if group not in settings.reviewer_groups:
            known = ", ".join(sorted(settings.reviewer_groups)) or "none"
            raise InvalidInput(
                ("body", "options", "reviewers", index),
                f"no reviewer is in group {group!r} (AIJOBS_REVIEWERS); groups: {known}",
            )
    plan = job_input.plan()
    limit = settings.max_calls_per_job
    if plan.model_calls > limit:
        raise InvalidInput(
            ("body", "input"),
            f"this job would make {plan.model_calls:,} model calls ({plan.explanation}); the "
            f"limit is {limit:,} per job (AIJOBS_MAX_CALLS_PER_JOB)",
        )


def _check_allowed(model: str | None, loc: tuple[str | int, ...], settings: Settings) -> None:
    if settings.allowed_models and model is not None and model not in settings.allowed_models:
        raise InvalidInput(
            loc,
            f"model {model!r} is not allowed here; allowed models: "
            f"{', '.join(sorted(settings.allowed_models))}",
        )


def _check_webhook_url(raw: str, settings: Settings) -> None:
    """Refuse a webhook URL that is plainly not public: an address literal that is not, or a
    `localhost` name. Names are resolved at every delivery attempt, and checked again there."""
    loc = ("body", "options", "webhook", "url")
    try:
        host = httpx.URL(raw).host.lower().rstrip(".")
    except httpx.InvalidURL as err:
        raise InvalidInput(loc, f"not a usable URL: {err}") from None
    if not host:
        raise InvalidInput(loc, "the URL has no host")
    if host in settings.webhook_allow_private:
        return
    why = "a local name" if host == "localhost" or host.endswith(".localhost") else None
    try:
        why = why or non_public(ip_address(host))
    except ValueError:
        pass  # a name: checked when it is resolved
    if why is not None:
        raise InvalidInput(
            loc,
            f"{host} is {why}: a webhook must reach a public address (name the host in "
            "AIJOBS_WEBHOOK_ALLOW_PRIVATE for a receiver inside your network)",
        )
