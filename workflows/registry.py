"""Finding the job workflows: every `JobWorkflow` in this package, matched to the job types
declared in core/contracts/, so a job type is registered by being written, once."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from temporalio import workflow

import workflows
from workflows.job import JobWorkflow

with workflow.unsafe.imports_passed_through():
    from core.contracts.job_type import JobType


class RegistryMismatch(Exception):
    """Declared job types and job workflows do not match one to one."""


def job_workflows() -> dict[str, type[Any]]:
    """Each job workflow class in workflows/, by its Temporal workflow type."""
    found: dict[str, type[Any]] = {}
    for module_info in sorted(pkgutil.iter_modules(workflows.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"workflows.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, JobWorkflow)
                and value.__module__ == module.__name__
                and (definition := workflow._Definition.from_class(value)) is not None
                and definition.name is not None
            ):
                found[definition.name] = value
    return found


def matched(job_types: dict[str, JobType]) -> list[type[Any]]:
    """The job workflows, once each declared job type has one and each has a declaration."""
    found = job_workflows()
    declared = {job.workflow_type for job in job_types.values()}
    problems = []
    if missing := sorted(declared - set(found)):
        problems.append(f"job types name workflows that workflows/ does not define: {missing}")
    if undeclared := sorted(set(found) - declared):
        problems.append(f"job workflows with no JobType declared in core/contracts/: {undeclared}")
    if problems:
        raise RegistryMismatch("; ".join(problems))
    return [found[name] for name in sorted(found)]
