"""The job-type registry: every `JobType` declared in a contract module, found once.

Workflows are named by their Temporal type, so the API knows every job without importing
workflow code; `worker.py` checks that each declared name has a job workflow and each job
workflow a declaration.
"""

from __future__ import annotations

import importlib
import pkgutil

import core.contracts
from core.contracts.job_type import JobType

# Memo key every job's workflow keeps for the API, which reads it without a worker: the
# final progress of a job that completed.
PROGRESS_MEMO = "progress"


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
