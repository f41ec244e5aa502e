"""Scheduled jobs: what a schedule's run carries, and what its quota check answers.

An owner's schedule is a Temporal Schedule whose action starts a `ScheduledRunWorkflow`. The
run checks the owner's quotas (an activity: the database's counts) and only then starts the
job, an ordinary job workflow, as a child it waits for, so the schedule's overlap policy sees
the job running.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

SCHEDULED_RUN_WORKFLOW = "ScheduledRunWorkflow"
ADMIT_SCHEDULED_JOB = "admit_scheduled_job"
# Memo key of a run that did not start its job, saying why (the schedule's recent runs).
REFUSAL_MEMO = "refused"


class Timetable(BaseModel):
    """When a schedule runs, as its owner wrote it: Temporal keeps a cron only as calendar
    fields, so the schedule's action carries the text the API shows."""

    cron: str | None = None
    every: str | None = None
    timezone: str = "UTC"


class ScheduledRun(BaseModel):
    """A schedule's action: its owner's job, validated and bounded when the schedule was made."""

    schedule: str
    owner: str
    timetable: Timetable
    job_type: str
    workflow_type: str
    # The job workflow's run input (its input, with documents stored, plus its options).
    run_input: dict[str, Any]


class AdmitScheduledJob(BaseModel):
    owner: str
    job_id: str


# The error code a start through the API would have answered.
RefusalType = Literal["budget_exhausted", "rate_limited"]


class Refusal(BaseModel):
    """Why a run started no job."""

    type: RefusalType
    message: str


class Admission(BaseModel):
    refused: Refusal | None = None


class ScheduledRunResult(BaseModel):
    """The job the run started, or why it started none."""

    job_id: str | None = None
    refused: Refusal | None = None
