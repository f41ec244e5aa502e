"""The step log's refusals that need no database."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.step_log import StepLog
from core.contracts.recording import Recording

pytestmark = pytest.mark.unit


async def test_a_replay_without_records_fails_instead_of_asking_a_model() -> None:
    """A worker without the application database cannot replay: ReplayMiss, not None (which
    would send the step to the model)."""
    step = StepLog(None).begin(
        Recording(source="cas_" + "0" * 32, mode="replay"), "o", "chunk-1", "chat", {"m": 1}
    )
    with pytest.raises(ApplicationError) as refused:
        await step.taken()
    assert refused.value.type == "ReplayMiss"
    assert refused.value.non_retryable


async def test_a_rerun_without_records_runs_its_steps() -> None:
    """A fork or an identical rerun on such a worker runs each step fresh."""
    for mode in ("fork", "identical"):
        step = StepLog(None).begin(
            Recording(source="job-" + "0" * 32, mode=mode), "o", "chunk-1", "chat", {"m": 1}
        )
        assert await step.taken() is None
