"""Activity environments for tests, each as a step of its own job."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from temporalio.testing import ActivityEnvironment


def step_env(
    job_id: str | None = None,
    *,
    run_id: str | None = None,
    activity_id: str = "1",
    attempt: int = 1,
    heartbeat_details: Sequence[Any] = (),
) -> ActivityEnvironment:
    """An ActivityEnvironment whose workflow (job) and run ids are new, so what one test's
    step journals or logs is never another test's."""
    env = ActivityEnvironment()
    env.info = replace(
        env.info,
        workflow_id=job_id or f"job-{uuid.uuid4().hex}",
        workflow_run_id=run_id or uuid.uuid4().hex,
        activity_id=activity_id,
        attempt=attempt,
        heartbeat_details=heartbeat_details,
    )
    return env
