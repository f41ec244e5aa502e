"""Publishing job events from a workflow onto its Workflow Stream, with bounded retention."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream, WorkflowStreamState
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core.events import CancelledEvent, CompletedEvent, FailedEvent
    from core.failures import describe_failure
    from core.jobs import PROGRESS_MEMO

# A client connected within this window has read an item before it is dropped.
RETAIN_FOR = timedelta(minutes=10)
# However fast events arrive, the workflow keeps at most this many in memory.
MAX_RETAINED = 1000
# Continue-as-new carries only the newest events: what a run carries must not grow with the
# job's length (a few hundred bytes an event keeps this to tens of kB).
CARRIED_ACROSS_RUNS = 100
# Workflow Streams' own query for the end of the log, registered by WorkflowStream.
_OFFSET_QUERY = "__temporal_workflow_stream_offset"

Result = TypeVar("Result", bound=BaseModel)


class EventLog:
    """One topic per event type, so subscribers filter by type at the source."""

    def __init__(self, stream: WorkflowStream, base_offset: int = 0) -> None:
        self.stream = stream
        self._base = base_offset
        self._marks: deque[tuple[int, datetime]] = deque()

    def publish(self, event: BaseModel) -> None:
        topic = getattr(event, "type", type(event).__name__)
        self.stream.topic(topic).publish(event)
        self._trim()

    async def continue_as_new(
        self, build_args: Callable[[WorkflowStreamState], list[Any]]
    ) -> NoReturn:
        """Continue as new, carrying at most CARRIED_ACROSS_RUNS of the newest events."""
        end = self._end()
        if end is not None and end - self._base > CARRIED_ACROSS_RUNS:
            self._base = end - CARRIED_ACROSS_RUNS
            self.stream.truncate(self._base)
        await self.stream.continue_as_new(build_args)

    def _end(self) -> int | None:
        offset_handler = workflow.get_query_handler(_OFFSET_QUERY)
        return None if offset_handler is None else int(offset_handler())

    def _trim(self) -> None:
        """Drop what is older than RETAIN_FOR, and anything past MAX_RETAINED items."""
        end = self._end()
        if end is None:
            return
        now = workflow.now()
        self._marks.append((end, now))
        cut = self._base
        while self._marks and now - self._marks[0][1] > RETAIN_FOR:
            cut = max(cut, self._marks.popleft()[0])
        cut = max(cut, end - MAX_RETAINED)
        if cut > self._base:
            self.stream.truncate(cut)
            self._base = cut

    async def report(self, body: Callable[[], Awaitable[Result]]) -> Result:
        """Run the job body and publish how it ended: completed, failed or cancelled.

        Continue-as-new passes through untouched: the job goes on in the next run.
        """
        try:
            result = await body()
        except asyncio.CancelledError:
            self.publish(CancelledEvent())
            raise
        except FailureError as err:
            error_type, message = describe_failure(err)
            self.publish(FailedEvent(error={"type": error_type, "message": message}))
            raise
        self.publish(CompletedEvent(result=result.model_dump(mode="json")))
        return result


FINAL_PROGRESS_MEMO_PATCH = "final-progress-memo"


def record_final_progress(progress: BaseModel) -> None:
    """Keep the final progress on the run itself, readable after it closes."""
    if workflow.patched(FINAL_PROGRESS_MEMO_PATCH):
        workflow.upsert_memo({PROGRESS_MEMO: progress.model_dump(mode="json")})
