"""API fixtures: a worker and the real API against the dev server, and HTTP clients per owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.support.api_server import serve_api
from worker import build_worker


@dataclass
class Api:
    url: str
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient
    anonymous: httpx.AsyncClient


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Api]:
    settings.max_body_bytes = 20_000
    keys = {owner.split("-")[0]: key.get_secret_value() for owner, key in settings.api_keys.items()}
    async with (
        build_worker(settings, dev_env.client),
        serve_api(settings, dev_env.client) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {keys['alice']}"}
        ) as alice,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {keys['bob']}"}) as bob,
        httpx.AsyncClient(base_url=url) as anonymous,
    ):
        yield Api(url, alice, bob, anonymous)
