"""Writing a model call's tokens to the job's event log while the call runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from core.events import RetryEvent, TokenEvent
from store import JobEventLog
from store.job_events import NewEvent

log = structlog.get_logger(__name__)

# The last token batch may take this long to reach the log; after that it is dropped.
FINAL_FLUSH_S = 3.0
LOST_ATTEMPT = "the previous attempt did not finish (worker stopped, timeout or transient error)"

OnText = Callable[[str], None]


class _TokenWriter:
    """Coalesces text deltas into one `token` event per batch interval. The first delta after a
    pause is written at once, so a reader sees the first words without waiting a batch."""

    def __init__(self, events: JobEventLog, step: str, interval: timedelta) -> None:
        info = activity.info()
        self._events = events
        self._job_id = info.workflow_id or ""
        # Run, activity and attempt: keys no other call or attempt can produce.
        self._key = f"{info.workflow_run_id}/{info.activity_id}/{info.attempt}"
        self._step = step
        self._attempt = info.attempt
        self._interval = interval.total_seconds()
        self._text: list[str] = []
        self._batches = 0
        self._unsent: NewEvent | None = None
        self._failing = False
        self._ready = asyncio.Event()
        self._writing = asyncio.Lock()

    def add(self, text: str) -> None:
        self._text.append(text)
        self._ready.set()

    async def append(self, event: NewEvent) -> None:
        await self._events.append(self._job_id, [event])

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            # Shielded: stopping the writer never cuts a write in half.
            await asyncio.shield(self.flush())
            # Pacing, not synchronisation: at most one write per interval while text flows.
            await asyncio.sleep(self._interval)

    async def flush(self) -> None:
        """Write what has arrived. A batch that failed is written again as it was (same key,
        same text), so a write that did commit is never doubled or cut."""
        async with self._writing:
            self._ready.clear()
            if self._unsent is None:
                if not self._text:
                    return
                event = TokenEvent(step=self._step, text="".join(self._text), attempt=self._attempt)
                self._text = []
                self._unsent = NewEvent(
                    f"{self._key}/{self._batches}", "token", event.model_dump(mode="json")
                )
                self._batches += 1
            try:
                await self.append(self._unsent)
            except Exception as err:  # a blip must not fail a paid call; the text waits
                if not self._failing:
                    log.warning("stream.write_failed", step=self._step, reason=type(err).__name__)
                self._failing = True
                self._ready.set()
                return
            self._unsent = None
            self._failing = False
            if self._text:
                self._ready.set()

    def retry_event(self) -> NewEvent | None:
        info = activity.info()
        if info.attempt <= 1:
            return None
        reason = str(info.heartbeat_details[0]) if info.heartbeat_details else LOST_ATTEMPT
        event = RetryEvent(step=self._step, attempt=info.attempt, reason=reason)
        return NewEvent(f"{self._key}/retry", "retry", event.model_dump(mode="json"))


class TokenStreams:
    """One per worker: opens a token writer for each streamed model call."""

    def __init__(self, events: JobEventLog, batch_interval: timedelta) -> None:
        self._events = events
        self._interval = batch_interval

    @asynccontextmanager
    async def open(self, step: str | None) -> AsyncIterator[OnText | None]:
        """A callback taking text deltas for `step`, or None for a call that is not streamed.

        A retried attempt first says so (`retry`), so clients drop the failed attempt's text.
        """
        if step is None:
            yield None
            return
        writer = _TokenWriter(self._events, step, self._interval)
        if (retry := writer.retry_event()) is not None:
            try:
                await writer.append(retry)
            except Exception as err:  # the retry notice is advice; the call matters more
                log.warning("stream.retry_event_lost", step=step, reason=type(err).__name__)
        task = asyncio.create_task(writer.run())
        try:
            yield writer.add
        except BaseException:
            # The call failed: write what there is, without heartbeats that would overwrite
            # the failure reason the next attempt's `retry` event quotes.
            await _final_flush(task, writer, step, keep_alive=False)
            raise
        await _final_flush(task, writer, step, keep_alive=True)


async def _final_flush(
    task: asyncio.Task[None], writer: _TokenWriter, step: str, *, keep_alive: bool
) -> None:
    """Write the last tokens, best effort. The model's answer has arrived and is paid for: a
    slow or failing write must neither fail the call nor outlast its heartbeat timeout, or
    Temporal would run (and the provider bill) the call again."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        async with heartbeating() if keep_alive else nullcontext():
            await asyncio.wait_for(writer.flush(), FINAL_FLUSH_S)
    except Exception as err:  # best effort by design: the answer matters, the tail does not
        log.warning("stream.final_flush_abandoned", step=step, reason=type(err).__name__)


@asynccontextmanager
async def remember_failure() -> AsyncIterator[None]:
    """Leave a retryable failure's reason in the heartbeat details, for the next attempt's
    `retry` event to quote."""
    try:
        yield
    except ApplicationError as err:
        if not err.non_retryable:
            activity.heartbeat(f"{err.type}: {err.message}")
        raise
