"""The job-type registry: the one list the API validates against and the worker registers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from workflows.summarize import SummarizeInput, SummarizeWorkflow


@dataclass(frozen=True)
class JobType:
    """A job type as the API names it, with the workflow that runs it and the input it takes."""

    name: str
    workflow: type[Any]
    input_model: type[BaseModel]
    description: str


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
    )
}
