"""The job event log: gap-free ordered offsets, idempotent appends, wake-ups, retention."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from store import Stores
from store.job_events import CHANNEL, NewEvent


def _events(prefix: str, n: int, kind: str = "stage") -> list[NewEvent]:
    return [NewEvent(f"{prefix}/{i}", kind, {"type": kind, "n": i}) for i in range(n)]


async def test_concurrent_writers_get_distinct_gap_free_offsets(stores: Stores) -> None:
    """Twenty writers appending at once to one job get offsets 0..N-1, each event once."""
    job = f"job-{uuid.uuid4().hex}"
    await asyncio.gather(*(stores.events.append(job, _events(f"w{w}", 5)) for w in range(20)))
    read = await stores.events.read(job, after=-1, limit=1000)
    assert [e.offset for e in read] == list(range(100))
    assert len({(e.data["n"], e.offset) for e in read}) == 100
    head = await stores.events.head(job)
    assert head is not None
    assert head.next_offset == 100


async def test_a_retried_append_adds_nothing(stores: Stores) -> None:
    """Appending the same keys again (a retried activity) keeps one copy of each event."""
    job = f"job-{uuid.uuid4().hex}"
    assert await stores.events.append(job, _events("a", 3)) == 3
    assert await stores.events.append(job, [*_events("a", 3), *_events("b", 1)]) == 1
    assert [e.data["n"] for e in await stores.events.read(job, after=-1)] == [0, 1, 2, 0]


async def test_the_same_batch_appended_at_once_is_stored_once(stores: Stores) -> None:
    """Ten writers racing with the same keys (an attempt and its retry): the writer that gets
    the job's lock second sees the first one's commit, so one copy of each event, no gaps."""
    job = f"job-{uuid.uuid4().hex}"
    added = await asyncio.gather(*(stores.events.append(job, _events("x", 4)) for _ in range(10)))
    assert sorted(added) == [0] * 9 + [4]
    read = await stores.events.read(job, after=-1)
    assert [(e.offset, e.data["n"]) for e in read] == [(0, 0), (1, 1), (2, 2), (3, 3)]


async def test_read_resumes_after_an_offset(stores: Stores) -> None:
    """A reader that has offset 4 gets 5 onwards, in pages of the size it asks for."""
    job = f"job-{uuid.uuid4().hex}"
    await stores.events.append(job, _events("a", 10))
    page = await stores.events.read(job, after=4, limit=3)
    assert [e.offset for e in page] == [5, 6, 7]


async def test_an_append_notifies_listeners_with_the_job_id(stores: Stores) -> None:
    """Every committed append wakes LISTENers on the channel, naming the job."""
    job = f"job-{uuid.uuid4().hex}"
    received: asyncio.Queue[str] = asyncio.Queue()
    async with stores.engine.connect() as conn:
        listener = (await conn.get_raw_connection()).driver_connection
        assert listener is not None
        await listener.add_listener(CHANNEL, lambda *args: received.put_nowait(args[3]))
        await stores.events.append(job, _events("a", 2))
        assert await asyncio.wait_for(received.get(), 5) == job


async def test_register_records_the_owner_once(stores: Stores) -> None:
    """The owner is recorded before any event, and a later event keeps it."""
    job = f"job-{uuid.uuid4().hex}"
    await stores.events.register(job, "alice")
    await stores.events.append(job, _events("a", 1))
    await stores.events.register(job, "mallory")
    head = await stores.events.head(job)
    assert head is not None
    assert (head.owner, head.next_offset, head.trimmed_through) == ("alice", 1, -1)


async def test_retention_removes_old_tokens_first_and_records_how_far(stores: Stores) -> None:
    """Tokens older than their cutoff go; other events stay until theirs; the head says where
    removal reached, so a reader behind it can be told."""
    job = f"job-{uuid.uuid4().hex}"
    await stores.events.append(job, [*_events("s", 2), *_events("t", 3, kind="token")])
    await stores.events.append(job, _events("later", 1))
    now = datetime.now(UTC)
    removed = 0
    more = True
    while more:
        batch, more = await stores.events.trim(
            cutoff=now - timedelta(days=7), token_cutoff=now + timedelta(seconds=1), batch=2
        )
        removed += batch
    assert removed >= 3
    left = await stores.events.read(job, after=-1)
    assert [(e.offset, e.type) for e in left] == [(0, "stage"), (1, "stage"), (5, "stage")]
    head = await stores.events.head(job)
    assert head is not None
    assert head.trimmed_through == 4


async def test_heads_of_emptied_jobs_are_forgotten(stores: Stores) -> None:
    """Once retention removed all of a job's events, its head row goes too."""
    job = f"job-{uuid.uuid4().hex}"
    await stores.events.append(job, _events("a", 2))
    later = datetime.now(UTC) + timedelta(seconds=1)
    more = True
    while more:
        _, more = await stores.events.trim(cutoff=later, token_cutoff=later)
    assert await stores.events.forget_empty(later) >= 1
    assert await stores.events.head(job) is None
