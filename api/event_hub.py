"""One LISTEN connection per API process, fanning job events out to every SSE client in it.

A NOTIFY names a job; the process reads that job's new events once and every client watching
it takes them from memory. Watchers therefore cost Temporal nothing, and the database one read
per job per append, however many clients there are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from store import JobEventLog
from store.job_events import CHANNEL, StoredEvent

log = structlog.get_logger(__name__)

# Events a feed keeps in memory for its watchers; one further behind reads the database.
RECENT_EVENTS = 2000
READ_PAGE = 1000
# How often the listener checks its connection, and waits before reconnecting.
LISTEN_CHECK_S = 5.0
RECONNECT_AFTER_S = 1.0


class JobFeed:
    """The newest events of one watched job, read once for all of its watchers."""

    def __init__(self, job_id: str, events: JobEventLog, next_offset: int) -> None:
        self.job_id = job_id
        self._events = events
        self._recent: deque[StoredEvent] = deque(maxlen=RECENT_EVENTS)
        self._next = next_offset
        self._changed = asyncio.Event()
        self._refresh: asyncio.Task[None] | None = None
        self._again = False
        self.watchers = 0
        # When Temporal was last asked whether the job still runs: shared by its watchers.
        self.status_checked_at: float | None = None

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next change. Take it before reading, so no change slips between."""
        return self._changed

    def take(self, after: int) -> list[StoredEvent] | None:
        """Events after `after` from memory; None when they are older than memory holds."""
        start = self._recent[0].offset if self._recent else self._next
        if after + 1 < start:
            return None
        newer: list[StoredEvent] = []
        for event in reversed(self._recent):
            if event.offset <= after:
                break
            newer.append(event)
        newer.reverse()
        return newer

    def poke(self) -> None:
        """Read what is new; while a read runs, one more follows it."""
        if self._refresh is not None and not self._refresh.done():
            self._again = True
            return
        self._refresh = asyncio.create_task(self._read_new())

    async def _read_new(self) -> None:
        while True:
            self._again = False
            try:
                batch = await self._events.read(self.job_id, after=self._next - 1, limit=READ_PAGE)
            except Exception as err:  # the watchers' idle timeout tries again
                log.warning("events.feed_read_failed", job_id=self.job_id, reason=str(err))
                return
            if batch:
                self._recent.extend(batch)
                self._next = batch[-1].offset + 1
                self._changed.set()
                self._changed = asyncio.Event()
            if len(batch) < READ_PAGE and not self._again:
                return

    def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()


class EventHub:
    """Keeps one LISTEN connection open (reconnecting after a database restart) and a feed per
    job that has watchers in this process."""

    def __init__(self, engine: AsyncEngine, events: JobEventLog) -> None:
        self._engine = engine
        self._events = events
        self._feeds: dict[str, JobFeed] = {}
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever())

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for feed in self._feeds.values():
            feed.stop()

    @asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[JobFeed]:
        """The job's shared feed, for as long as the caller watches."""
        feed = self._feeds.get(job_id)
        if feed is None:
            head = await self._events.head(job_id)
            # Another watcher may have created it while the head was read.
            feed = self._feeds.get(job_id) or JobFeed(
                job_id, self._events, head.next_offset if head else 0
            )
            self._feeds[job_id] = feed
            # Events appended while the head was read woke nobody: read them now.
            feed.poke()
        feed.watchers += 1
        try:
            yield feed
        finally:
            feed.watchers -= 1
            if feed.watchers == 0 and self._feeds.get(job_id) is feed:
                del self._feeds[job_id]
                feed.stop()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, job_id: str) -> None:
        feed = self._feeds.get(job_id)
        if feed is not None:
            feed.poke()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("events.listen_lost", reason=str(err) or type(err).__name__)
            self.listening.clear()
            await asyncio.sleep(RECONNECT_AFTER_S)

    async def _listen(self) -> None:
        async with self._engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            if raw is None:
                raise RuntimeError("the database driver gave no connection to listen on")
            try:
                await raw.add_listener(CHANNEL, self._on_notify)
                self.listening.set()
                log.info("events.listening", channel=CHANNEL, feeds=len(self._feeds))
                # Whatever was appended while nobody listened is read now.
                for feed in list(self._feeds.values()):
                    feed.poke()
                lost = asyncio.Event()
                raw.add_termination_listener(lambda _conn: lost.set())
                while True:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), LISTEN_CHECK_S)
                    if lost.is_set():
                        raise ConnectionError("the listening connection closed")
                    # A query too: it finds a connection that died silently (a dropped route).
                    await raw.fetchval("SELECT 1")
            finally:
                # Never hand a connection with our listener on it back to the pool.
                await conn.invalidate()
