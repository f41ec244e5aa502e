"""The job-type registry: every `JobType` declared in a contract module, found once.

Workflows are named by their Temporal type, so the API knows every job without importing
workflow code; `worker.py` checks that each declared name has a job workflow and each job
workflow a declaration.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil

import core.contracts
from core.contracts.job_type import JobType

# Memo key every job's workflow keeps for the API, which reads it without a worker: the
# final progress of a job that completed.
PROGRESS_MEMO = "progress"
# Memo key holding when the job was started: continue-as-new keeps the memo, while each run's
# own start time is the run's.
CREATED_AT = "created_at"


def _declared() -> dict[str, JobType]:
    """Each module-level `JobType` of the modules in core/contracts/, by name."""
    found: dict[str, JobType] = {}
    for module_info in sorted(pkgutil.iter_modules(core.contracts.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"core.contracts.{module_info.name}")
        for value in vars(module).values():
            if not isinstance(value, JobType):
                continue
            other = found.setdefault(value.name, value)
            if other is not value:
                raise RuntimeError(f"job type {value.name!r} is declared twice")
    return found


JOB_TYPES: dict[str, JobType] = _declared()

# The job type of a workflow type, for activities that know only their workflow's type.
JOB_TYPE_OF_WORKFLOW: dict[str, str] = {job.workflow_type: job.name for job in JOB_TYPES.values()}


def job_id_for(owner: str, key: str) -> str:
    """Derive the workflow id from owner and key, so two owners' keys can never collide."""
    return "job-" + hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()[:32]


def scheduled_job_id(owner: str, run_id: str) -> str:
    """The job a schedule's run (the workflow `run_id`) starts: known before it starts, so the
    API finds it from the schedule's recent runs alone."""
    return job_id_for(owner, f"schedule-run\0{run_id}")
