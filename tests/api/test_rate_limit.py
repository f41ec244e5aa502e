"""The per-owner rate limit: 429 with Retry-After and the IETF RateLimit headers, shared by
every API replica, and open again once the window has passed."""

from __future__ import annotations

import httpx
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.conftest import Api
from tests.support.api_server import serve_api
from tests.support.polling import eventually


async def test_the_limit_answers_429_with_headers_and_recovers(
    api: Api, settings: Settings
) -> None:
    """Three requests per two seconds: the fourth is 429 with Retry-After and RateLimit
    fields; another owner is not slowed; after the window the owner is served again."""
    settings.owner_rate_limit = "3 per 2 seconds"
    answers = [await api.alice.get("/v1/jobs") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["RateLimit-Policy"] == '"owner";q=3;w=2'
    assert answers[0].headers["RateLimit"].startswith('"owner";r=2;t=')

    refused = await api.alice.get("/v1/jobs")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert refused.headers["RateLimit"].startswith('"owner";r=0;')
    assert (await api.bob.get("/v1/jobs")).status_code == 200

    async def served() -> int:
        return (await api.alice.get("/v1/jobs")).status_code

    await eventually(served, until=lambda s: s == 200, timeout_s=10, interval_s=0.25)


async def test_replicas_share_one_count(
    api: Api, settings: Settings, dev_env: WorkflowEnvironment
) -> None:
    """A second API process counts into the same window: two replicas give no more room."""
    settings.owner_rate_limit = "4 per 10 seconds"
    headers = dict(api.alice.headers)
    async with (
        serve_api(settings, dev_env.client) as url,
        httpx.AsyncClient(base_url=url, headers=headers) as replica,
    ):
        codes = []
        for client in (api.alice, replica) * 3:
            codes.append((await client.get("/v1/job-types")).status_code)
    assert codes == [200, 200, 200, 200, 429, 429]


async def test_health_and_docs_are_not_limited(api: Api, settings: Settings) -> None:
    """Probes and documentation never count: only /v1 routes do."""
    settings.owner_rate_limit = "1 per 10 seconds"
    for path in ("/healthz", "/readyz", "/openapi.json", "/healthz"):
        assert (await api.anonymous.get(path)).status_code == 200
    assert "RateLimit" not in (await api.anonymous.get("/healthz")).headers
