"""A workflow's job events and progress, written to its job's log in the application database
through a local activity: never a signal or an Update per event, and no payload in history."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.contracts.human import AnswerRecord
    from core.contracts.job_events import (
        APPEND_JOB_EVENTS,
        AnsweredStep,
        AppendJobEvents,
        KeyedEvent,
    )

APPEND_TIMEOUT = timedelta(seconds=10)
# No attempt limit: an event the log never gets is a hole every watcher would see. While the
# database is down the job waits here, as every other step that needs the database does.
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30)
)


class EventLog:
    """Events published in one workflow task go to the log in one local activity (a marker in
    history per batch), with the job's newest progress beside them."""

    def __init__(self) -> None:
        self._pending: list[KeyedEvent] = []
        self._answers: list[AnsweredStep] = []
        self._progress: dict[str, Any] | None = None
        self._appending = False
        self._published = 0
        self._appender: asyncio.Task[None] | None = None

    def publish(self, event: BaseModel, progress: BaseModel | None = None) -> None:
        """Queue `event` (and, when given, the progress the API shows from now on)."""
        # Run id and sequence: the same key on every replay and local-activity retry.
        key = f"{workflow.info().run_id}/{self._published}"
        self._published += 1
        self._pending.append(KeyedEvent(key=key, data=event.model_dump(mode="json")))
        if progress is not None:
            self._progress = progress.model_dump(mode="json")
        if self._appender is None:
            self._appender = asyncio.create_task(self._append_forever())

    def record_answer(self, step: str, record: AnswerRecord) -> None:
        """Keep a person's answer among the job's steps. It rides with the `input_received`
        event published just before it, so it needs no append of its own."""
        self._answers.append(AnsweredStep(step=step, record=record))

    async def flush(self) -> None:
        """Wait until every event published so far is in the log."""
        await workflow.wait_condition(lambda: not self._pending and not self._appending)

    async def _append_forever(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._pending))
            batch, self._pending = self._pending, []
            answers, self._answers = self._answers, []
            progress, self._progress = self._progress, None
            self._appending = True
            try:
                await workflow.execute_local_activity(
                    APPEND_JOB_EVENTS,
                    AppendJobEvents(
                        job_id=workflow.info().workflow_id,
                        events=batch,
                        answers=answers,
                        progress=progress,
                    ),
                    start_to_close_timeout=APPEND_TIMEOUT,
                    retry_policy=APPEND_RETRY,
                    summary=f"{len(batch)} event(s)",
                )
            except ActivityError as err:
                # Only a non-retryable failure gets here: a bug, not an outage.
                workflow.logger.warning(
                    "events.dropped", extra={"events": len(batch), "reason": str(err.cause)}
                )
            finally:
                self._appending = False
