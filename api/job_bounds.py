"""Bounds a job must fit before it starts: its planned model calls and its model."""

from __future__ import annotations

from core.config import Settings
from core.contracts.plan import JobInput
from core.errors import InvalidInput


def check_bounds(job_input: JobInput, settings: Settings) -> None:
    """InvalidInput (422), with the numbers, for a job that may not start."""
    model = getattr(job_input, "model", None)
    if settings.allowed_models and model is not None and model not in settings.allowed_models:
        raise InvalidInput(
            ("body", "input", "model"),
            f"model {model!r} is not allowed here; allowed models: "
            f"{', '.join(sorted(settings.allowed_models))}",
        )
    plan = job_input.plan()
    limit = settings.max_calls_per_job
    if plan.model_calls > limit:
        raise InvalidInput(
            ("body", "input"),
            f"this job would make {plan.model_calls:,} model calls ({plan.explanation}); the "
            f"limit is {limit:,} per job (AIJOBS_MAX_CALLS_PER_JOB)",
        )
