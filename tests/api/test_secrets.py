"""No secret in any answer, history, event or log line: a model server that echoes the key in
its 401, and a base URL that carries a password, leave no trace of either."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.encryption import data_converter
from core.logging import configure_logging
from core.redaction import REDACTED, Redactor
from store import Stores
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import key_of
from tests.support.api_server import serve_api
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.temporal import history_text
from worker import build_worker

MODEL_KEY = "sk-live-0123456789abcdefSECRET"
URL_PASSWORD = "p4ss-in-the-url"  # noqa: S105 (a test value)


def test_the_redactor_replaces_secrets_url_passwords_and_bearer_tokens() -> None:
    redactor = Redactor(["sk-abcdef", "x"])
    text = (
        "key sk-abcdef, url postgresql://app:hunter22@db/x, "
        "Authorization: Bearer eyJhbGciOiJI.payload"
    )
    assert redactor.text(text) == (
        f"key {REDACTED}, url postgresql://app:{REDACTED}@db/x, Authorization: Bearer {REDACTED}"
    )
    # Too short to be a secret: left alone rather than shredding every "x".
    assert redactor.text("x marks") == "x marks"


async def failed_job_texts(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run one summarize job that the model server refuses; the failed job, and every text
    the job left: the API's answer, its events, the job list, its history and the logs."""
    logs = io.StringIO()
    configure_logging("INFO", json=True, stream=logs)
    try:
        client = await Client.connect(
            dev_env.client.service_client.config.target_host,
            data_converter=data_converter(settings),
        )
        headers = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
        async with (
            build_worker(settings, client, stores),
            serve_api(settings, client) as url,
            httpx.AsyncClient(base_url=url, headers=headers) as http,
        ):
            job_id = await start_job(http, SUMMARIZE)
            job = await wait_for(http, job_id, "failed")
            events = (await http.get(f"/v1/jobs/{job_id}/events")).text
            listed = (await http.get("/v1/jobs")).text
    finally:
        configure_logging("INFO", json=True)
    history = history_text(await dev_env.client.get_workflow_handle(job_id).fetch_history())
    texts = {
        "answer": json.dumps(job),
        "events": events,
        "list": listed,
        "history": history,
        "logs": logs.getvalue(),
    }
    return job, texts


async def test_an_echoed_key_and_a_url_password_leave_no_trace(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores, fake_openai: FakeOpenAI
) -> None:
    """A key quoted in a 401 and a password in the model URL appear nowhere."""
    base = str(fake_openai.base_url).replace("http://", f"http://svc:{URL_PASSWORD}@")
    settings = settings.model_copy(
        update={"openai_api_key": SecretStr(MODEL_KEY), "openai_base_url": base}
    )
    # Some gateways quote the key they refused.
    fake_openai.script(Reply.error(401, f"Incorrect API key provided: {MODEL_KEY}."))
    job, texts = await failed_job_texts(dev_env, settings, stores)
    assert job["error"]["type"] == "AuthenticationFailed"
    assert REDACTED in job["error"]["message"]
    assert "event: failed" in texts["events"]
    assert "llm.configured" in texts["logs"]
    for where, text in texts.items():
        assert MODEL_KEY not in text, where
        assert URL_PASSWORD not in text, where


async def test_echoed_headers_leave_no_credential_in_any_encoding(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores, fake_openai: FakeOpenAI
) -> None:
    """A model server that quotes every request header in its 401 (the Basic auth that a
    URL's `user:password` becomes): no form of the password, URL-encoded, decoded or as
    base64, appears in the job's error, events, list, history or any log line; and the
    worker says at start which credential it sends."""
    encoded = "p%40ss-w0rd%2Fx"  # p@ss-w0rd/x, as a URL carries it
    base = str(fake_openai.base_url).replace("http://", f"http://svc:{encoded}@")
    settings = settings.model_copy(
        update={"openai_api_key": SecretStr(MODEL_KEY), "openai_base_url": base}
    )
    fake_openai.script(Reply.echoing_headers(401))
    job, texts = await failed_job_texts(dev_env, settings, stores)
    basic = base64.b64encode(b"svc:p@ss-w0rd/x").decode()
    assert fake_openai.requests[0].headers["authorization"] == f"Basic {basic}"
    assert "authorization" in job["error"]["message"]
    assert "llm.credentials" in texts["logs"]
    for where, text in texts.items():
        for form in (encoded, "p@ss-w0rd/x", basic, basic.rstrip("="), MODEL_KEY):
            assert form not in text, (where, form)
