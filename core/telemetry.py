"""OpenTelemetry traces, configured by the standard OTEL_* variables: one trace per job, from
the API request through the workflow and its activities to the model server's HTTP call.

Off unless OTEL_TRACES_EXPORTER is `otlp` or `console`, or an OTLP endpoint is set. Off
installs nothing: no provider, no interceptor, no instrumentation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

EXPORTERS = ("otlp", "console", "none")
_provider: TracerProvider | None = None


class TelemetryInvalid(ValueError):
    pass


def wanted_exporter(env: Mapping[str, str] = os.environ) -> str:
    """`otlp`, `console` or `none`, from OTEL_TRACES_EXPORTER (an endpoint alone means otlp)."""
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not chosen:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return "otlp" if endpoint else "none"
    if chosen not in EXPORTERS:
        raise TelemetryInvalid(
            f"OTEL_TRACES_EXPORTER={chosen!r} is not one of {', '.join(EXPORTERS)}"
        )
    return chosen


def configure_tracing(service: str, processor: SpanProcessor | None = None) -> bool:
    """Install the global tracer provider once per process; True when tracing is on. Tests
    pass their own processor (an in-memory exporter)."""
    global _provider
    if _provider is not None:
        return True
    if processor is None:
        kind = wanted_exporter()
        if kind == "none":
            return False
        processor = BatchSpanProcessor(_exporter(kind))
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over this default.
    provider = TracerProvider(resource=Resource.create({"service.name": f"aijobs-{service}"}))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    # The OpenAI client speaks httpx2; webhooks and tools speak httpx.
    HTTPXClientInstrumentor().instrument()
    HTTPX2ClientInstrumentor().instrument()
    _provider = provider
    return True


def _exporter(kind: str) -> SpanExporter:
    if kind == "console":
        return ConsoleSpanExporter()
    # Imported only when used: the exporter pulls in protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def tracing_on() -> bool:
    return _provider is not None


def shutdown_tracing() -> None:
    """Flush spans still batched (a worker's last job) before the process exits."""
    if _provider is not None:
        _provider.shutdown()


def temporal_interceptors() -> list[Interceptor]:
    """Client interceptors that carry the trace into workflows and activities (and workers
    built on the client inherit them)."""
    return [TracingInterceptor()] if tracing_on() else []
