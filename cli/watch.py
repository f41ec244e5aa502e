"""Rendering a job's event stream in a terminal: tokens as they arrive, stages and tools as
lines, a progress bar for chunked work, and the outcome."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from cli.client import ApiClient, CliError

RECONNECTS = 5
BAR_WIDTH = 24


class Screen:
    """Tokens go to stdout, everything about them to stderr, so `> file` keeps only the text."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.out, self.err = out, err
        self._step: str | None = None
        self._bar = False

    def token(self, step: str, text: str) -> None:
        self._clear_bar()
        if step != self._step:
            if self._step is not None:
                self.out.write("\n")
            self.err.write(f"[{step}] ")
            self.err.flush()
            self._step = step
        self.out.write(text)
        self.out.flush()

    def line(self, text: str) -> None:
        self._clear_bar()
        if self._step is not None:
            self.out.write("\n")
            self.out.flush()
            self._step = None
        self.err.write(text + "\n")
        self.err.flush()

    def progress(self, stage: str, done: int, total: int) -> None:
        if not self.err.isatty():
            self.line(f"· {stage} {done}/{total}")
            return
        if self._step is not None:
            # Text is mid-line on the terminal: a bar drawn now would overwrite it.
            return
        filled = BAR_WIDTH * done // max(total, 1)
        self.err.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {stage} ")
        self.err.flush()
        self._bar = True

    def _clear_bar(self) -> None:
        if self._bar:
            self.err.write("\r\033[K")
            self._bar = False


class JsonLines(Screen):
    """`--json`: every event as one JSON object per line on stdout, for scripts."""

    def event(self, event_id: str, kind: str, data: dict[str, Any]) -> None:
        self.out.write(json.dumps({"id": event_id, "event": kind, "data": data}) + "\n")
        self.out.flush()


def watch(
    api: ApiClient, job_id: str, screen: Screen | None = None, *, as_json: bool = False
) -> int:
    """Follow the job to its end; reconnects with Last-Event-ID. 0 if it completed, else 1."""
    screen = screen or (JsonLines() if as_json else Screen())
    last: str | None = None
    failures = 0
    while True:
        try:
            for event_id, kind, data in api.events(job_id, last):
                last = event_id or last
                failures = 0
                if isinstance(screen, JsonLines):
                    screen.event(event_id, kind, data)
                    outcome = _outcome(kind)
                else:
                    outcome = render(screen, job_id, kind, data)
                if outcome is not None:
                    return outcome
            return _final_status(api, screen, job_id)
        except ConnectionError as err:
            failures += 1
            if failures > RECONNECTS:
                raise CliError(f"lost the event stream: {err}") from None
            screen.line(f"… reconnecting after event {last} ({err})")
            time.sleep(min(2**failures, 10))


def render(screen: Screen, job_id: str, kind: str, data: dict[str, Any]) -> int | None:
    if kind == "token":
        screen.token(data["step"], data["text"])
    elif kind == "stage":
        if data.get("total"):
            screen.progress(data["stage"], data.get("completed", 0), data["total"])
        else:
            screen.line(f"· {data['stage']}")
    elif kind == "retry":
        screen.line(
            f"↻ {data['step']} attempt {data['attempt']}: {data['reason']} (text above discarded)"
        )
    elif kind == "tool_call":
        screen.line(f"→ {data['tool']} {json.dumps(data['arguments'])}")
    elif kind == "tool_result":
        screen.line(f"← {data['tool']} [{data['status']}] {data['summary']}")
    elif kind == "waiting_for_input":
        screen.line(f"? waiting for {data['name']!r} until {data['deadline']}: {data['prompt']}")
        screen.line(f"  answer with: aijobs input {job_id} {data['name']} --value '{{...}}'")
    elif kind == "input_received":
        screen.line(f"✓ {data['name']} answered by {data['answered_by']} ({data['via']})")
    elif kind == "truncated":
        screen.line(
            f"… events up to {data['removed_through']} are past retention; "
            f"continuing from {data['continues_from']}"
        )
    elif kind == "completed":
        screen.line("✓ completed")
        screen.out.write(json.dumps(data["result"], indent=2) + "\n")
        return 0
    elif kind in ("failed", "cancelled"):
        error = data.get("error", {"type": "Cancelled", "message": "the job was cancelled"})
        screen.line(f"✗ {kind}: {error['type']}: {error['message']}")
        return 1
    return None


def _outcome(kind: str) -> int | None:
    if kind == "completed":
        return 0
    return 1 if kind in ("failed", "cancelled") else None


def _final_status(api: ApiClient, screen: Screen, job_id: str) -> int:
    """The stream ended without an outcome event (filtered, or truncated): ask the job."""
    job = api.request("GET", f"/v1/jobs/{job_id}")
    screen.line(f"job {job_id} is {job['status']}")
    return 0 if job["status"] == "completed" else 1
