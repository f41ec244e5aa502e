"""Prometheus series an operator alerts on: the API's /metrics (no key) and the worker's
endpoint (the SDK's metrics plus model calls, tokens, cost, cache hits). No owner in any."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api import metrics as api_metrics
from core.config import Settings
from core.temporal import metrics_runtime
from store import Stores
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import Api, key_of
from tests.support.api_server import serve_api
from tests.support.polling import eventually
from tests.support.ports import free_port
from worker import build_worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """The sum over series of `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


async def test_the_api_serves_jobs_latency_and_streams_without_a_key(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_metrics, "JOB_COUNTS_EVERY_S", 0.0)
    before = samples((await api.anonymous.get("/metrics")).text)
    job_id = await start_job(api.alice, SUMMARIZE)
    async with api.alice.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
        assert stream.status_code == 200
        during = samples((await api.anonymous.get("/metrics")).text)
        assert value(during, "aijobs_sse_clients") >= 1
        async for _ in stream.aiter_lines():
            pass  # to the terminal event
    await wait_for(api.alice, job_id, "completed")

    async def scrape() -> tuple[str, Samples]:
        response = await api.anonymous.get("/metrics")
        assert response.status_code == 200
        return response.text, samples(response.text)

    def counted(scraped: tuple[str, Samples]) -> bool:
        return value(scraped[1], "aijobs_jobs", type="summarize", status="completed") >= 1

    text, after = await eventually(scrape, until=counted, what="visibility counts the job")
    started = "aijobs_jobs_started_total"
    assert value(after, started, type="summarize") == value(before, started, type="summarize") + 1
    # The route's template labels latency: never the job id.
    latency = "aijobs_http_request_duration_seconds_count"
    assert value(after, latency, method="POST", route="/v1/jobs", status="202") >= 1
    assert value(after, latency, route="/v1/jobs/{job_id}/events", status="200") >= 1
    assert job_id not in text
    assert not any(owner in text for owner in api.owners)


async def test_the_worker_serves_sdk_and_model_metrics(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    port = free_port()
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        data_converter=pydantic_data_converter,
        runtime=metrics_runtime(port, "127.0.0.1"),
    )
    headers = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
    async with (
        build_worker(settings, client, stores),
        serve_api(settings, client) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as http,
    ):
        # The same summary twice: the second is answered from the cache.
        for _ in range(2):
            await wait_for(http, await start_job(http, SUMMARIZE), "completed")
        async with httpx.AsyncClient() as scraper:
            text = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
    found = samples(text)
    model = {"model": "fake-model", "activity_type": "complete_chat"}
    assert value(found, "aijobs_model_answers_total", source="model", **model) == 1
    assert value(found, "aijobs_model_answers_total", source="cache", **model) == 1
    assert value(found, "aijobs_model_cache_hits_total", **model) == 1
    assert value(found, "aijobs_model_tokens_total", direction="input", **model) == 10
    # The SDK's own series, on the same endpoint.
    assert (
        value(found, "temporal_activity_execution_latency_count", activity_type="complete_chat")
        == 2
    )
    assert not any(owner in text for owner in settings.api_keys)
