"""The job-type registry: the one list the API validates against and the worker registers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from workflows.agent import AgentInput, AgentWorkflow
from workflows.draft_review import DraftReviewInput, DraftReviewWorkflow
from workflows.summarize import SummarizeInput, SummarizeWorkflow


@dataclass(frozen=True)
class JobType:
    """A job type as the API names it, with the workflow that runs it and the input it takes."""

    name: str
    workflow: type[Any]
    input_model: type[BaseModel]
    description: str
    # True when the workflow asks people questions (inherits workflows.human.HumanInput).
    accepts_input: bool = False


# Adding a job type: write workflows/<name>.py, then add one entry here.
JOB_TYPES: dict[str, JobType] = {
    job.name: job
    for job in (
        JobType(
            name="summarize",
            workflow=SummarizeWorkflow,
            input_model=SummarizeInput,
            description="Summarize a long text: chunks in parallel, then a combined summary.",
        ),
        JobType(
            name="draft_review",
            workflow=DraftReviewWorkflow,
            input_model=DraftReviewInput,
            description="The model drafts from a brief; a person approves, revises or rejects; "
            "approved text is published exactly once.",
            accepts_input=True,
        ),
        JobType(
            name="agent",
            workflow=AgentWorkflow,
            input_model=AgentInput,
            description="Work towards a goal with tools: the model proposes calls, the workflow "
            "validates them, asks a person before side effects, and stops at budgets.",
            accepts_input=True,
        ),
    )
}
