"""`python worker.py` refuses to start, with one clear line, when jobs could not run: no or an
unmigrated database, or search attributes the namespace lacks and will not add."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    ListSearchAttributesResponse,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.errors import SearchAttributesMissing
from core.temporal import ensure_search_attributes
from store import Stores
from store.encryption_keys import check_keys
from store.migrate import head_revision
from tests.conftest import make_settings
from tests.support.polling import eventually
from tests.support.processes import ROOT, start_worker, stop, worker_env

# Starts subprocesses (interpreters, workers, servers): not a unit test.
pytestmark = pytest.mark.integration


def inherited() -> dict[str, str]:
    """This process's environment without any aijobs, Temporal or model settings."""
    prefixes = ("AIJOBS_", "TEMPORAL_", "OPENAI_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def run_worker(env: dict[str, str]) -> tuple[int, list[dict[str, Any]]]:
    """Run the worker to its exit (it must not start), returning its code and JSON log lines."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env={**inherited(), **env},
        capture_output=True,
        timeout=60,
        check=False,
    )
    lines = [json.loads(line) for line in done.stderr.decode().splitlines() if line.startswith("{")]
    return done.returncode, lines


def refusals(lines: list[dict[str, Any]]) -> list[str]:
    return [line["reason"] for line in lines if line["event"] == "worker.cannot_start"]


def test_bad_settings_are_one_line_naming_each_and_exit_2() -> None:
    """A setting that cannot be read stops the worker with one line naming every bad variable
    and what it should look like, not a traceback."""
    code, lines = run_worker(
        {"AIJOBS_MODEL_LIMITS": "gpt-4o=fast", "AIJOBS_OWNER_MAX_RUNNING": "many"}
    )
    assert code == 2
    [reason] = refusals(lines)
    assert "AIJOBS_MODEL_LIMITS entries look like model=rpm:500,tpm:200000" in reason
    assert "AIJOBS_OWNER_MAX_RUNNING: Input should be a valid integer" in reason
    assert len(lines) == 1


def test_no_database_url_is_one_line_and_exit_2(dev_env: WorkflowEnvironment) -> None:
    """Without AIJOBS_DATABASE_URL the worker says so and what to do, before touching Temporal."""
    code, lines = run_worker({"TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host})
    assert code == 2
    [reason] = refusals(lines)
    assert "AIJOBS_DATABASE_URL is not set" in reason


async def test_unmigrated_database_is_one_line_and_exit_2(
    dev_env: WorkflowEnvironment, stores: Stores, database_url: str
) -> None:
    """An empty database is refused at start with the migration it needs, not on a first job."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    async with stores.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    code, lines = run_worker(
        {
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "AIJOBS_DATABASE_URL": url,
        }
    )
    assert code == 2
    [reason] = refusals(lines)
    assert f"at migration none, but this code needs {head_revision()}" in reason
    assert "python -m store.migrate" in reason


class _RefusingOperator:
    """An operator service like Temporal Cloud's: attributes are listed, never added here."""

    def __init__(self, existing: list[str]) -> None:
        self.existing = existing
        self.asked_to_add: list[str] = []

    async def list_search_attributes(
        self, request: ListSearchAttributesRequest
    ) -> ListSearchAttributesResponse:
        response = ListSearchAttributesResponse()
        for name in self.existing:
            response.custom_attributes[name] = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        return response

    async def add_search_attributes(self, request: AddSearchAttributesRequest) -> None:
        self.asked_to_add = sorted(request.search_attributes)
        raise RPCError("permission denied", RPCStatusCode.PERMISSION_DENIED, b"")


async def test_missing_search_attributes_stop_the_worker_naming_them() -> None:
    """Refused attributes are an error that names each one, not a warning before wedged jobs."""
    operator = _RefusingOperator(existing=["JobOwner"])
    client: Any = SimpleNamespace(namespace="prod", operator_service=operator)
    with pytest.raises(SearchAttributesMissing) as refused:
        await ensure_search_attributes(client)
    assert operator.asked_to_add == ["JobReviewers", "JobSchedule", "JobType", "JobWaitingFor"]
    message = refused.value.message
    assert "JobReviewers (KeywordList), JobSchedule (Keyword), JobType (Keyword)" in message
    assert "JobOwner" not in message


async def test_present_search_attributes_pass(dev_env: WorkflowEnvironment) -> None:
    """On the dev server (started with them) the check passes without adding anything."""
    client: Client = dev_env.client
    await ensure_search_attributes(client)


async def test_every_log_line_is_json_including_the_sdk_cores(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    """The SDK core's own warnings (here its "Failing workflow task", for a workflow type no
    worker has; its failing polls when Temporal is gone come the same way) arrive through
    Python logging as JSON, like every other line, instead of coloured text."""
    log = tmp_path / "worker.log"
    env = worker_env(
        dev_env.client.service_client.config.target_host,
        settings.task_queue,
        "http://127.0.0.1:1/v1",
        tmp_path,
        settings.database_url.get_secret_value() if settings.database_url else "",
    )
    worker = start_worker({**inherited(), **env}, log)
    try:

        async def written() -> str:
            return log.read_text()

        await eventually(written, until=lambda text: "worker.started" in text, what="start")
        unknown = await dev_env.client.start_workflow(
            "NoSuchWorkflow", id=f"unknown-{uuid.uuid4().hex}", task_queue=settings.task_queue
        )
        try:
            await eventually(
                written,
                until=lambda text: '"logger": "temporalio.core' in text,
                what="a line from the SDK core",
            )
        finally:
            await unknown.terminate("the test saw what it needed")
    finally:
        stop(worker)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # any line that is not JSON fails here
    core = [line for line in parsed if line["logger"].startswith("temporalio.core")]
    assert core
    assert all(line["level"] in ("warning", "error") for line in core)


async def test_a_worker_with_keys_that_cannot_read_the_deployment_refuses_to_start(
    dev_env: WorkflowEnvironment, stores: Stores, database_url: str
) -> None:
    """A second worker whose AIJOBS_ENCRYPTION_KEYS lack the deployment's key (here: none at
    all, then a different key under the same name) stops at start with one line naming the
    variable, instead of failing every task it takes."""
    queue = f"keys-{uuid.uuid4().hex}"
    key = base64.b64encode(b"k" * 32).decode()
    await check_keys(stores.engine, make_settings(task_queue=queue, encryption_keys=f"k1={key}"))
    base = {
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "AIJOBS_DATABASE_URL": database_url,
        "AIJOBS_TASK_QUEUE": queue,
    }
    for keys in ("", f"k1={base64.b64encode(b'x' * 32).decode()}"):
        code, lines = run_worker({**base, "AIJOBS_ENCRYPTION_KEYS": keys})
        assert code == 2
        [reason] = refusals(lines)
        assert "AIJOBS_ENCRYPTION_KEYS" in reason
