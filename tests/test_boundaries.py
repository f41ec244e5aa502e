"""The API, workflows and activities share contracts through core/, never by importing each
other: checked in fresh interpreters, so nothing another test imported can hide a leak."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

# Starts subprocesses (interpreters, workers, servers): not a unit test.
pytestmark = pytest.mark.integration


def loaded_after(module: str) -> set[str]:
    """Top-level packages a fresh interpreter has loaded after importing `module`."""
    script = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("module", ["api.main", "cli.main"])
def test_the_api_and_cli_load_no_workflow_activity_or_model_code(module: str) -> None:
    """Job inputs, answers and events come from core/contracts: no workflow or activity module,
    and not the model client, is imported to serve HTTP."""
    loaded = loaded_after(module)
    assert not {"workflows", "activities", "openai"} & loaded


@pytest.mark.parametrize(
    "module", ["workflows.summarize", "workflows.draft_review", "workflows.agent"]
)
def test_workflows_load_no_activity_or_store_code(module: str) -> None:
    """Workflows name activities by their contract names; they import neither the activities
    nor the stores (they never touch the database)."""
    loaded = loaded_after(module)
    assert not {"activities", "store", "openai", "sqlalchemy"} & loaded
