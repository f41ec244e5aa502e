"""Encrypted history end to end: a job's text is ciphertext at rest, the codec server decodes
it for an operator only, and a rotated key still reads old runs."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.encryption import data_converter
from store import Stores
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import key_of, make_settings
from tests.support.api_server import serve_api
from worker import build_worker

TEXT = "The zebra-protocol-7731 launch moves to March."
KEY_1, KEY_2 = base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()
CODEC_KEY = "operator-codec-key"


def encrypting(settings: Settings, keys: str) -> Settings:
    parsed = make_settings(encryption_keys=keys, codec_keys=f"ops={CODEC_KEY}")
    return settings.model_copy(
        update={"encryption_keys": parsed.encryption_keys, "codec_keys": parsed.codec_keys}
    )


@asynccontextmanager
async def stack(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> AsyncIterator[httpx.AsyncClient]:
    """A worker and an API whose client encrypts with `settings`' keys."""
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        data_converter=data_converter(settings),
    )
    async with (
        build_worker(settings, client, stores),
        serve_api(settings, client) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield http


async def test_history_is_ciphertext_and_the_codec_decodes_for_an_operator_only(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    settings = encrypting(settings, f"k1={KEY_1}")
    alice = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
    async with stack(dev_env, settings, stores) as http:
        http.headers.update(alice)
        job_id = await start_job(http, {"type": "summarize", "input": {"text": TEXT}})
        await wait_for(http, job_id, "completed")

        history = await dev_env.client.get_workflow_handle(job_id).fetch_history()
        raw = b"".join(event.SerializeToString() for event in history.events)
        assert b"zebra-protocol" not in raw
        started = history.events[0].workflow_execution_started_event_attributes
        [sealed] = started.input.payloads
        assert sealed.metadata["encoding"] == b"binary/encrypted"

        body = {
            "payloads": [
                {
                    "metadata": {
                        k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()
                    },
                    "data": base64.b64encode(sealed.data).decode(),
                }
            ]
        }
        # An owner's API key is not a codec key, and no key is none.
        assert (await http.post("/codec/decode", json=body)).status_code == 401
        anonymous = await http.post("/codec/decode", json=body, headers={"Authorization": ""})
        assert anonymous.status_code == 401

        operator = {"Authorization": f"Bearer {CODEC_KEY}"}
        decoded = await http.post("/codec/decode", json=body, headers=operator)
        assert decoded.status_code == 200, decoded.text
        [plain] = decoded.json()["payloads"]
        assert TEXT in base64.b64decode(plain["data"]).decode()
        assert base64.b64decode(plain["metadata"]["encoding"]) == b"json/plain"

        # The browser's way: a Basic prompt once, then a cookie scoped to /codec.
        login = await http.get("/codec/session", headers={"Authorization": ""})
        assert login.status_code == 401
        assert login.headers["www-authenticate"].startswith("Basic")
        login = await http.get("/codec/session", auth=("anyone", CODEC_KEY))
        assert login.status_code == 200
        assert login.json()["operator"] == "ops"
        by_cookie = await http.post("/codec/decode", json=body, headers={"Authorization": ""})
        assert by_cookie.status_code == 200
        assert by_cookie.json() == decoded.json()


async def test_only_the_ui_origin_may_call_the_codec_across_origins(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    settings = encrypting(settings, f"k1={KEY_1}")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-namespace",
    }
    async with stack(dev_env, settings, stores) as http:
        ui = await http.options(
            "/codec/decode", headers={**preflight, "Origin": "http://localhost:8233"}
        )
        assert ui.headers["access-control-allow-origin"] == "http://localhost:8233"
        assert ui.headers["access-control-allow-credentials"] == "true"
        other = await http.options(
            "/codec/decode", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        # The rest of the API answers no cross-origin call at all.
        jobs = await http.options(
            "/v1/jobs", headers={**preflight, "Origin": "http://localhost:8233"}
        )
        assert "access-control-allow-origin" not in jobs.headers


async def test_a_rotated_key_still_reads_runs_sealed_with_the_old_one(
    dev_env: WorkflowEnvironment, settings: Settings, stores: Stores
) -> None:
    old = encrypting(settings, f"k1={KEY_1}")
    alice = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
    async with stack(dev_env, old, stores) as http:
        http.headers.update(alice)
        job_id = await start_job(http, {"type": "summarize", "input": {"text": TEXT}})
        summary = (await wait_for(http, job_id, "completed"))["result"]["summary"]

    rotated = encrypting(settings, f"k2={KEY_2},k1={KEY_1}")
    async with stack(dev_env, rotated, stores) as http:
        http.headers.update(alice)
        assert (await wait_for(http, job_id, "completed"))["result"]["summary"] == summary
        # New runs are sealed with the first key.
        newer = await start_job(http, {"type": "summarize", "input": {"text": TEXT}})
        await wait_for(http, newer, "completed")
    history = await dev_env.client.get_workflow_handle(newer).fetch_history()
    [sealed] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert sealed.metadata["encryption-key-id"] == b"k2"
