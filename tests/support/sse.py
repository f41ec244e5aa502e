"""Reading a job's SSE stream in tests, as any client would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse


@dataclass
class Received:
    id: str
    event: str
    data: dict[str, Any]


async def events(
    client: httpx.AsyncClient,
    job_id: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> AsyncIterator[Received]:
    async with aconnect_sse(
        client, "GET", f"/v1/jobs/{job_id}/events", params=params or {}, headers=headers or {}
    ) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            if not sse.data:
                continue  # a keep-alive comment, not an event
            yield Received(sse.id, sse.event, json.loads(sse.data))


async def collect(
    client: httpx.AsyncClient,
    job_id: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> list[Received]:
    return [event async for event in events(client, job_id, headers, params)]
