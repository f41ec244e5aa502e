"""A job's steps as recorded: what a rerun reuses, what strict replay answers from, and the
cassette that carries them between deployments."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.llm import TokenUsage
from core.contracts.recording import STEP_NAME_PATTERN, StepKind

CASSETTE_VERSION: Literal[1] = 1
# Ids of imported cassettes; a job's id starts with `job-`.
CASSETTE_PREFIX = "cas_"


class RecordedStep(BaseModel):
    """A step's record as a cassette carries it. `digest` identifies the request (for an
    agent step it covers the whole conversation, while `request` shows the new messages)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=STEP_NAME_PATTERN)
    kind: StepKind
    request: dict[str, Any]
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    answer: dict[str, Any]
    model: str | None = Field(default=None, max_length=200)
    usage: TokenUsage = Field(default_factory=TokenUsage)


class CassetteJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=100)
    input: dict[str, Any]
    options: dict[str, Any] = Field(default_factory=dict)


class Cassette(BaseModel):
    """A job's requests and answers (and tool results), as one versioned JSON document."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = CASSETTE_VERSION
    job: CassetteJob
    steps: list[RecordedStep] = Field(max_length=10_000)
    # The job's result when it was exported, if it had completed: what a replay must return.
    result: Any = None
