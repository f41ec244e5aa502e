"""Shared fixtures: Temporal servers, one embedded PostgreSQL per run, the fake model server,
per-test task queues and settings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.billing import Billing
from activities.model_caller import ModelCaller
from activities.model_gate import ModelGate
from core.config import Settings
from core.logging import configure_logging
from core.pricing import ModelPrices
from store import Stores
from store.database import create_engine
from tests.support.api_server import serve_api
from tests.support.database import embedded_database
from tests.support.fake_openai import FakeOpenAI
from tests.support.temporal import start_dev_server, start_time_skipping
from worker import build_worker

LAYERS = ("unit", "integration", "e2e")
# Fixtures that start Temporal and the API together (end to end), or a server of any kind
# (PostgreSQL, the fake model server, a Temporal server) or a subprocess.
E2E_FIXTURES = frozenset({"api", "dev_env"})
SERVER_FIXTURES = frozenset(
    {"ts_env", "database_url", "stores", "fake_openai", "settings", "worker"}
)
E2E_FOLDERS = frozenset({"e2e", "cli", "contract"})
# Where the suite's longest tests live (crashes, outages, `make run`, schemathesis): run first,
# so the two pytest processes end on short tests together instead of one waiting on a long
# one alone.
LONG_FOLDERS = frozenset({"e2e", "contract"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to one layer: its own marker, else what it needs says which. A test
    that starts no server and no subprocess is a unit test (`make test-fast` runs those)."""
    for item in items:
        if any(item.get_closest_marker(layer) for layer in LAYERS):
            continue
        needs = set(getattr(item, "fixturenames", ()))
        folder = item.path.parent.name
        if needs & E2E_FIXTURES or folder in E2E_FOLDERS:
            item.add_marker(pytest.mark.e2e)
        elif needs & SERVER_FIXTURES:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
    items.sort(key=lambda item: item.path.parent.name not in LONG_FOLDERS)


@pytest.fixture(scope="session", autouse=True)
def structured_logs() -> None:
    """Log as production does, so every logger is routed through the same processors."""
    configure_logging("INFO", json=True)


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated PostgreSQL for this test run; tests keep apart by unique ids."""
    with embedded_database(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(scope="session")
async def stores(database_url: str) -> AsyncIterator[Stores]:
    engine = create_engine(database_url, pool_size=5)
    yield Stores.on(engine)
    await engine.dispose()


@pytest.fixture
def billing(stores: Stores) -> Billing:
    """The real ledger and price table, as the worker builds them."""
    return Billing(stores.ledger, ModelPrices())


@pytest.fixture
def gate(stores: Stores) -> ModelGate:
    """The shared model limits, with none configured (a 429 still pauses the model)."""
    return ModelGate(stores.model_calls, stores.events, {}, timedelta(seconds=60))


CallerFor = Callable[[openai.AsyncOpenAI], ModelCaller]


@pytest.fixture
def caller_for(stores: Stores, billing: Billing, gate: ModelGate) -> CallerFor:
    """A model caller on a given client, with the real journal, cache, limits and ledger."""

    def make(client: openai.AsyncOpenAI) -> ModelCaller:
        return ModelCaller(client, gate, billing, stores.answers, timedelta(days=7))

    return make


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as fake:
        yield fake


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex}"


def key_of(settings: Settings, owner_prefix: str) -> str:
    """The first plain API key of the first owner whose name starts with `owner_prefix`."""
    owner = next(o for o in settings.api_keys if o.startswith(owner_prefix))
    plain = settings.api_keys[owner][0].plain
    assert plain is not None, f"{owner}'s key is configured as a hash"
    return plain.get_secret_value()


def make_settings(**overrides: Any) -> Settings:
    """Settings from explicit values only: no .env file, so a developer's own keys never leak in."""
    return Settings(_env_file=None, **overrides)


@pytest.fixture
def settings(
    fake_openai: FakeOpenAI, task_queue: str, tmp_path: Path, database_url: str
) -> Settings:
    return make_settings(
        data_dir=str(tmp_path),
        database_url=database_url,
        openai_base_url=fake_openai.base_url,
        openai_api_key="sk-test",
        task_queue=task_queue,
        model="fake-model",
        # Tests poll fast; the rate limit has its own test (tests/api/test_rate_limit.py).
        owner_rate_limit="100000/minute",
        # Owners are unique per test: the dev server is shared across the session.
        api_keys=f"alice-{task_queue}=alice-key-{task_queue},bob-{task_queue}=bob-key-{task_queue}",
    )


@dataclass
class Api:
    url: str
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient
    anonymous: httpx.AsyncClient
    # The owners' full names, unique to the test (`alice-<queue>`, `bob-<queue>`).
    owners: list[str]


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> AsyncIterator[Api]:
    settings.max_body_bytes = 20_000
    keys = {owner.split("-")[0]: key_of(settings, owner) for owner in settings.api_keys}
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them: a request
    # sent on a connection the server is closing fails with ReadError.
    pool = httpx.Limits(keepalive_expiry=2.0)
    # A client's patience, not httpx's 5 s default: under the suite's load a start can take
    # longer, and a test that means to bound latency says so itself.
    patience = httpx.Timeout(30.0)
    async with (
        build_worker(settings, dev_env.client, stores),
        serve_api(settings, dev_env.client) as url,
        httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {keys['alice']}"},
            limits=pool,
            timeout=patience,
        ) as alice,
        httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {keys['bob']}"},
            limits=pool,
            timeout=patience,
        ) as bob,
        httpx.AsyncClient(base_url=url, limits=pool, timeout=patience) as anonymous,
    ):
        yield Api(url, alice, bob, anonymous, sorted(settings.api_keys))
