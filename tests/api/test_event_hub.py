"""The API's event hub on a real PostgreSQL: one listener, shared feeds, and no event lost
when the listening connection dies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from api.event_hub import EventHub, JobFeed
from store import Stores
from store.database import create_engine
from store.job_events import CHANNEL, NewEvent
from tests.support.polling import eventually


@pytest.fixture
async def hub(database_url: str, stores: Stores) -> AsyncIterator[EventHub]:
    engine = create_engine(database_url, pool_size=2)
    hub = EventHub(engine, stores.events)
    hub.start()
    await eventually(lambda: _true(hub.listening.is_set()), what="the hub listening")
    yield hub
    await hub.close()
    await engine.dispose()


async def _true(value: bool) -> bool:
    return value


async def _offsets(feed: JobFeed) -> list[int]:
    return [e.offset for e in feed.take(-1) or []]


async def test_watchers_of_one_job_share_one_feed(hub: EventHub, stores: Stores) -> None:
    """Two watchers get the same feed; an append reaches it through NOTIFY."""
    job = f"job-{uuid.uuid4().hex}"
    async with hub.watch(job) as first, hub.watch(job) as second:
        assert first is second
        await stores.events.append(job, [NewEvent("a", "stage", {"type": "stage"})])
        await eventually(lambda: _offsets(first), until=lambda o: o == [0], what="the event")


async def test_no_event_is_lost_when_the_listener_connection_dies(
    hub: EventHub, stores: Stores
) -> None:
    """A database restart or failover kills the LISTEN connection: the hub reconnects and reads
    what was appended meanwhile, so its watchers miss nothing."""
    job = f"job-{uuid.uuid4().hex}"
    async with hub.watch(job) as feed:
        async with stores.engine.begin() as conn:
            killed = (
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query ILIKE :listen AND pid <> pg_backend_pid()"
                    ),
                    {"listen": f"%LISTEN%{CHANNEL}%"},
                )
            ).all()
        assert killed, "no listening connection found"
        await stores.events.append(job, [NewEvent("a", "stage", {"type": "stage"})])
        await eventually(
            lambda: _offsets(feed), until=lambda o: o == [0], timeout_s=15, what="the event"
        )
        await eventually(lambda: _true(hub.listening.is_set()), what="listening again")
