"""A job type's one declaration: the API validates and starts it, the worker runs it.

Each contract module declares its job type as a module-level `JobType`; `core/jobs.py` finds
them, and the worker checks that each names a workflow it has (and each job workflow a
declaration), so a job type is one contract, one workflow module and this one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from core.contracts.llm import TokenUsage
from core.contracts.plan import JobInput


@dataclass(frozen=True)
class JobType:
    """A job type as the API names it, with the workflow type that runs it and its input."""

    name: str
    workflow_type: str
    # Validated at the door; its `plan()` says how many model calls a job may make.
    input_model: type[JobInput]
    description: str
    # True when the workflow asks people questions (the `submit_answer` Update and signal).
    accepts_input: bool = False


class JobProgress(BaseModel):
    """What every job's progress says; a job's own progress model adds its fields. The job
    SDK keeps it, and it is the one source of the `stage` events, the Temporal UI's details,
    the progress the API shows (read from the database) and the job's usage totals."""

    stage: str = "starting"
    completed: int = 0
    total: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)
