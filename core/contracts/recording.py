"""Where a job's steps may come from instead of a model or a tool: the request models carry
it from the workflow to the activities."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.contracts.human import AnswerRecord

# A replayed job asked something its recording does not hold: never a model call instead.
REPLAY_MISS = "ReplayMiss"
STEP_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$"

StepKind = Literal["chat", "structured", "agent", "tool", "human"]
# fork: the source's steps that ended before `before` are taken as they were; identical: a
# step is taken while its request is the source's; replay: every step comes from the source.
RecordingMode = Literal["fork", "identical", "replay"]


class Recording(BaseModel):
    """Where a job's steps come from instead of a model or a tool: its parent's records (a
    rerun) or a recording (strict replay). Set by the API, never by a caller's input."""

    source: str = Field(min_length=1)
    mode: RecordingMode
    before: datetime | None = None
    from_step: str | None = None
    # The source's human answers this job takes instead of asking, by question step.
    answers: dict[str, AnswerRecord] = Field(default_factory=dict)
