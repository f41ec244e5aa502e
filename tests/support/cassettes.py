"""Cassettes in workflow tests: run any job type's workflow against a recorded cassette (no
model, no key), and export a finished job as one. `replay_cassette` in
tests/workflows/conftest.py is the fixture a team's own tests use (docs/write-a-job.md)."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.contracts.human import UPDATE_NAME, AnswerRecord, Submission
from core.contracts.steps import Cassette, CassetteJob
from core.jobs import JOB_TYPE_OF_WORKFLOW, JOB_TYPES
from core.temporal import JOB_OWNER
from store import Stores
from store.cassettes import import_cassette, recorded_steps
from tests.support.polling import eventually

CASSETTES = Path(__file__).resolve().parents[1] / "workflows" / "cassettes"


async def replay(
    client: Client, task_queue: str, stores: Stores, cassette: Cassette | Path, owner: str
) -> Any:
    """The job's result, every model call and tool result taken from `cassette` (a request
    it does not hold fails the job with ReplayMiss). People's answers come from it too: each
    question the job asks gets the next recorded answer."""
    if isinstance(cassette, Path):
        cassette = Cassette.model_validate_json(await asyncio.to_thread(cassette.read_text))
    cassette_id = await import_cassette(stores.requests, stores.steps, owner, cassette)
    job_type = JOB_TYPES[cassette.job.type]
    options = {**cassette.job.options, "replay_from": cassette_id}
    handle = await client.start_workflow(
        job_type.workflow_type,
        {**cassette.job.input, "options": options},
        id=f"replay-{cassette.job.type}-{uuid.uuid4().hex}",
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(JOB_OWNER, owner)]),
    )
    for step in (s for s in cassette.steps if s.kind == "human"):
        record = AnswerRecord.model_validate(step.answer)
        await eventually(partial(handle.query, "waiting_for"), what=f"question {record.name!r}")
        await handle.execute_update(
            UPDATE_NAME,
            Submission(name=record.name, value=record.value, answered_by=record.answered_by),
        )
        # After continue-as-new the next question is asked by the newest run.
        handle = client.get_workflow_handle(handle.id)
    return await handle.result()


async def export(client: Client, stores: Stores, owner: str, job_id: str) -> Cassette:
    """A finished job started outside the API, as a cassette: its first run's input, its
    steps and its result."""
    handle = client.get_workflow_handle(job_id)
    first_run = (await handle.describe()).raw_description.workflow_execution_info.first_run_id
    history = await client.get_workflow_handle(job_id, run_id=first_run).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [run_input] = await client.data_converter.decode(started.input.payloads, [dict])
    options = run_input.pop("options", {})
    steps = await stores.steps.steps(owner, job_id)
    job_type = JOB_TYPES[JOB_TYPE_OF_WORKFLOW[started.workflow_type.name]]
    # The caller's fields only: what the workflow adds (carried state, stored documents'
    # refs, a recording) is not part of a request.
    known = job_type.input_model.model_fields
    return Cassette(
        job=CassetteJob(
            type=job_type.name,
            input={k: v for k, v in run_input.items() if k in known},
            options={k: v for k, v in options.items() if v not in (None, [], {})},
        ),
        steps=recorded_steps(steps),
        result=await handle.result(),
    )
