"""The job-type registry: the one list the API validates against and the worker registers.

Workflows are named by their Temporal type, so the API knows every job without importing
workflow code; `worker.py` checks that each name here has a workflow registered under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.contracts.agent import AgentInput
from core.contracts.draft_review import DraftReviewInput
from core.contracts.extract import ExtractInput
from core.contracts.plan import JobInput
from core.contracts.summarize import SummarizeInput

# Memo keys every job's workflow keeps for the API, which reads them without a worker.
# The final progress of a job that completed:
PROGRESS_MEMO = "progress"


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


# Adding a job type: its contract in core/contracts/, its workflow in workflows/, one entry here.
JOB_TYPES: dict[str, JobType] = {
    job.name: job
    for job in (
        JobType(
            name="summarize",
            workflow_type="SummarizeWorkflow",
            input_model=SummarizeInput,
            description="Summarize a long text: chunks in parallel, then a combined summary.",
        ),
        JobType(
            name="draft_review",
            workflow_type="DraftReviewWorkflow",
            input_model=DraftReviewInput,
            description="The model drafts from a brief; a person approves, revises or rejects; "
            "approved text is published exactly once.",
            accepts_input=True,
        ),
        JobType(
            name="agent",
            workflow_type="AgentWorkflow",
            input_model=AgentInput,
            description="Work towards a goal with tools: the model proposes calls, the workflow "
            "validates them, asks a person before side effects, and stops at budgets.",
            accepts_input=True,
        ),
        JobType(
            name="extract",
            workflow_type="ExtractWorkflow",
            input_model=ExtractInput,
            description="Extract one object fitting a JSON Schema from each document; answers "
            "that misfit are repaired, and a document that fails does not fail the others.",
        ),
    )
}

# The job type of a workflow type, for activities that know only their workflow's type.
JOB_TYPE_OF_WORKFLOW: dict[str, str] = {job.workflow_type: job.name for job in JOB_TYPES.values()}
