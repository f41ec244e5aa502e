"""Publishing a workflow's job events: to the job's log in the application database, batched
through a local activity (runs begun before that publish onto their Workflow Stream)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.contrib.workflow_streams import WorkflowStream, WorkflowStreamState
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.contracts.job_events import APPEND_JOB_EVENTS, AppendJobEvents, KeyedEvent
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

# Patch id: runs begun before events moved to the database keep publishing to their stream.
EVENTS_IN_DATABASE = "events-in-database"
APPEND_TIMEOUT = timedelta(seconds=10)
# No attempt limit: an event the log never gets is a hole every watcher would see. While the
# database is down the job waits here, as every other step that needs the database does.
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30)
)

Result = TypeVar("Result", bound=BaseModel)


class EventLog:
    """Events published in one workflow task go to the log in one local activity: a marker in
    history per batch, never a signal or an Update per event, and no payload beyond the
    batch's input (which history does not keep)."""

    def __init__(
        self,
        stream: WorkflowStream | None = None,
        base_offset: int = 0,
        *,
        to_database: bool | None = None,
    ) -> None:
        """`stream` serves only runs begun before the event log; a new job type needs none.
        `to_database` True skips the patch check (and its marker): a run of a newer design
        (core.contracts.options.DESIGN) knows it began with the event log."""
        self._stream = stream
        self._base = base_offset
        self._marks: deque[tuple[int, datetime]] = deque()
        self._to_database = to_database or workflow.patched(EVENTS_IN_DATABASE)
        self._pending: list[KeyedEvent] = []
        self._appending = False
        self._published = 0
        self._appender: asyncio.Task[None] | None = None

    def publish(self, event: BaseModel) -> None:
        if not self._to_database:
            self._publish_on_stream(event)
            return
        # Run id and sequence: the same key on every replay and local-activity retry.
        key = f"{workflow.info().run_id}/{self._published}"
        self._published += 1
        self._pending.append(KeyedEvent(key=key, data=event.model_dump(mode="json")))
        if self._appender is None:
            self._appender = asyncio.create_task(self._append_forever())

    async def flush(self) -> None:
        """Wait until every event published so far is in the log."""
        await workflow.wait_condition(lambda: not self._pending and not self._appending)

    async def _append_forever(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._pending))
            batch, self._pending = self._pending, []
            self._appending = True
            try:
                await workflow.execute_local_activity(
                    APPEND_JOB_EVENTS,
                    AppendJobEvents(job_id=workflow.info().workflow_id, events=batch),
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

    def _publish_on_stream(self, event: BaseModel) -> None:
        topic = getattr(event, "type", type(event).__name__)
        self.stream.topic(topic).publish(event)
        self._trim()

    @property
    def stream(self) -> WorkflowStream:
        if self._stream is None:
            raise RuntimeError("a run that publishes to a Workflow Stream must be given one")
        return self._stream

    async def continue_as_new(
        self, build_args: Callable[[WorkflowStreamState | None], list[Any]]
    ) -> NoReturn:
        """Continue as new once the log has every event; a stream-era run carries at most
        CARRIED_ACROSS_RUNS of its newest events."""
        if self._to_database:
            await self.flush()
            workflow.continue_as_new(args=build_args(None))
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
            await self._flush_if_database()
            raise
        except FailureError as err:
            error_type, message = describe_failure(err)
            self.publish(FailedEvent(error={"type": error_type, "message": message}))
            await self._flush_if_database()
            raise
        self.publish(CompletedEvent(result=result.model_dump(mode="json")))
        await self._flush_if_database()
        return result

    async def _flush_if_database(self) -> None:
        if self._to_database:
            await self.flush()


FINAL_PROGRESS_MEMO_PATCH = "final-progress-memo"


def record_final_progress(progress: BaseModel, *, unpatched: bool = False) -> None:
    """Keep the final progress on the run itself, readable after it closes. `unpatched`: a
    run of a newer design, which needs no patch marker to know it."""
    if unpatched or workflow.patched(FINAL_PROGRESS_MEMO_PATCH):
        workflow.upsert_memo({PROGRESS_MEMO: progress.model_dump(mode="json")})
