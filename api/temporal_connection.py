"""The API's Temporal client, connected on first use so the API starts while Temporal is down."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from core.config import Settings
from core.errors import TemporalUnavailable
from core.temporal import connect


class TemporalConnection:
    """Connects once, under a lock, with a deadline; a failed attempt is retried next call."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        connect(self._settings), timeout=self._settings.rpc_timeout_s
                    )
                except (RuntimeError, OSError, TimeoutError) as err:
                    # The SDK reports a refused connection as RuntimeError("Failed client connect").
                    raise TemporalUnavailable(
                        f"cannot connect to {self._settings.temporal_address}"
                    ) from err
        return self._client

    def set_client(self, client: Client) -> None:
        """Use an already connected client (tests, embedding)."""
        self._client = client
