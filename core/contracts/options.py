"""Per-job options, sent beside `type` and `input` when a job starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_cost_usd: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="Dollars this job may spend on model calls; once reached, no further call "
        "starts (the calls in flight finish).",
    )


class WithOptions(BaseModel):
    """Mixed into a workflow's run input: the options the API started it with."""

    options: JobOptions = Field(default_factory=JobOptions)
