"""Per-job options, sent beside `type` and `input` when a job starts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.human import GROUP_PATTERN
from core.contracts.recording import Recording
from core.contracts.webhooks import WebhookOptions


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    max_cost_usd: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="Dollars this job may spend on model calls; once reached, no further call "
        "starts (the calls in flight finish).",
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Models to try, in order, when the job's model cannot answer (not found, "
        "or failing past a few attempts). Unset: AIJOBS_FALLBACK_MODELS for the job's model.",
    )
    cache: Literal["use", "refresh", "off"] | None = Field(
        None,
        description="Answers from the cross-run cache: `use` them, `refresh` them (call again "
        "and store), or `off`. Unset: `use` for calls at temperature 0, else `off`.",
    )
    reviewers: list[Annotated[str, Field(pattern=GROUP_PATTERN)]] = Field(
        default_factory=list,
        max_length=20,
        description="Reviewer groups (AIJOBS_REVIEWERS) whose members may see and answer this "
        "job's questions, in the inbox or through the API. Empty: only the owner answers.",
    )
    webhook: WebhookOptions | None = Field(
        None,
        description="Call this URL back, signed as Standard Webhooks, when the job ends (or "
        "at the events named).",
    )
    replay_from: str | None = Field(
        None,
        pattern=r"^(job-[0-9a-f]{32}|cas_[0-9a-f]{32})$",
        description="Strict replay: every model call and tool result comes from this job's "
        "records or this cassette; a request with no identical recorded request fails the job "
        "with ReplayMiss. No model is ever called.",
    )


class WithOptions(BaseModel):
    """Mixed into a workflow's run input: the options the job was started with."""

    options: JobOptions = Field(default_factory=JobOptions)
    # A rerun's parent or a replay's recording: set by the API from what it checked.
    recording: Recording | None = None
