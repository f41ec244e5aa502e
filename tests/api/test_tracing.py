"""One trace per job: the API request, the workflow, its activity, the model span and the model
server's HTTP call share a trace id, and the activity's log lines carry it."""

from __future__ import annotations

import logging

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core import telemetry
from core.config import Settings
from store import Stores
from tests.api.jobs_client import SUMMARIZE, start_job, wait_for
from tests.conftest import key_of
from tests.support.api_server import serve_api
from tests.support.fake_openai import FakeOpenAI
from worker import build_worker


async def test_a_job_is_one_trace_from_request_to_model_call(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    stores: Stores,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = InMemorySpanExporter()
    # Tracing is process-wide: switched off again for the tests that follow.
    monkeypatch.setattr(telemetry, "_provider", None)
    assert telemetry.configure_tracing("test", SimpleSpanProcessor(exporter))
    try:
        client = await Client.connect(
            dev_env.client.service_client.config.target_host,
            data_converter=pydantic_data_converter,
            interceptors=telemetry.temporal_interceptors(),
        )
        headers = {"Authorization": f"Bearer {key_of(settings, 'alice-')}"}
        with caplog.at_level(logging.INFO):
            async with (
                build_worker(settings, client, stores),
                serve_api(settings, client) as url,
                httpx.AsyncClient(base_url=url, headers=headers) as http,
            ):
                job_id = await start_job(http, SUMMARIZE)
                await wait_for(http, job_id, "completed")
    finally:
        HTTPXClientInstrumentor().uninstrument()
        HTTPX2ClientInstrumentor().uninstrument()

    spans = exporter.get_finished_spans()
    [request] = [s for s in spans if s.name == "POST /v1/jobs" and s.kind.name == "SERVER"]
    trace_id = request.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert {
        "StartWorkflow:SummarizeWorkflow",
        "RunWorkflow:SummarizeWorkflow",
        "StartActivity:complete_chat",
        "RunActivity:complete_chat",
        "chat fake-model",
    } <= names, names
    [chat] = [s for s in in_trace if s.name == "chat fake-model"]
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.request.model"] == "fake-model"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 10  # what the fake server bills
    assert chat.attributes["aijobs.cache_hit"] is False
    # The model server's HTTP call is a child of the model span.
    calls = [s for s in in_trace if s.parent and s.parent.span_id == chat.context.span_id]
    assert any(str(fake_openai.base_url).split("/v1")[0] in str(c.attributes) for c in calls)

    completed = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "llm.completed"
    ]
    assert completed
    assert {line.get("trace_id") for line in completed} == {format(trace_id, "032x")}
