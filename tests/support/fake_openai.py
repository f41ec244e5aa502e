"""A real HTTP server on 127.0.0.1 that speaks OpenAI's Chat Completions wire protocol.

Tests script its replies (text, errors with headers, malformed bodies, slow or held answers,
streamed chunks) and read back every request it received, so the real `openai` client runs.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.offline_embedding import offline_embedding


@dataclass
class Reply:
    """One scripted answer. Build with the class methods."""

    status: int = 200
    text: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    hold: threading.Event | None = None
    finish_reason: str = "stop"
    usage: tuple[int, int] = (10, 5)
    # (name, arguments) pairs: the reply proposes these tool calls.
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    # The error quotes every request header, as some gateways' 401s do.
    echo_headers: bool = False

    @classmethod
    def ok(cls, text: str, *, delay_s: float = 0.0, usage: tuple[int, int] = (10, 5)) -> Reply:
        return cls(text=text, delay_s=delay_s, usage=usage)

    @classmethod
    def calls(
        cls, *calls: tuple[str, dict[str, Any] | str], usage: tuple[int, int] = (10, 5)
    ) -> Reply:
        """Propose tool calls; arguments as a dict, or a raw string to send malformed JSON."""
        encoded = [(name, a if isinstance(a, str) else json.dumps(a)) for name, a in calls]
        return cls(tool_calls=encoded, finish_reason="tool_calls", usage=usage)

    @classmethod
    def error(
        cls, status: int, message: str = "error", *, code: str | None = None, **headers: str
    ) -> Reply:
        payload = {"error": {"message": message, "type": "fake_error", "code": code}}
        return cls(
            status=status,
            body=json.dumps(payload).encode(),
            headers={k.replace("_", "-"): v for k, v in headers.items()},
        )

    @classmethod
    def echoing_headers(cls, status: int) -> Reply:
        """An error whose message quotes the request's headers (credentials included)."""
        return cls(status=status, body=b"{}", echo_headers=True)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(body=b'{"id": "chatcmpl-x", "choices": [ this is not json')

    @classmethod
    def held(cls, gate: threading.Event, text: str) -> Reply:
        """Answer only once `gate` is set: keeps a call in flight for as long as a test needs."""
        return cls(text=text, hold=gate)

    @classmethod
    def filtered(cls) -> Reply:
        return cls(text="", finish_reason="content_filter")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    # time.monotonic() when the request arrived.
    at: float = field(default_factory=time.monotonic)

    @property
    def user_text(self) -> str:
        return str(self.body["messages"][-1]["content"])

    @property
    def system_text(self) -> str:
        return str(self.body["messages"][0]["content"])


def default_reply(request: dict[str, Any]) -> Reply:
    """Echo the first words of the user's text, so tests can tell which input was answered."""
    words = str(request["messages"][-1]["content"]).split()
    return Reply.ok("Summary: " + " ".join(words[:8]))


class FakeOpenAI:
    """Replies come from the script (in order) while it lasts, then from `responder`."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply] = default_reply) -> None:
        self.responder = responder
        # `POST /embeddings`: each input's vector (a test may put its own here).
        self.embed: Callable[[str], list[float]] = offline_embedding
        # How long each `POST /embeddings` takes (a benchmark's provider latency).
        self.embed_delay_s = 0.0
        self.requests: list[Recorded] = []
        self.completed: list[Recorded] = []
        # time.monotonic() of every streamed text delta as it was written, for benchmarks.
        self.emitted: list[float] = []
        # Calls being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.responder(request)

    def _record(self, recorded: Recorded, *, completed: bool) -> None:
        with self._lock:
            (self.completed if completed else self.requests).append(recorded)

    def _track(self, change: int) -> None:
        with self._lock:
            self.in_flight += change
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    @contextmanager
    def running(self) -> Iterator[FakeOpenAI]:
        server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="fake-openai", daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when many calls arrive at once.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that vanished (a killed worker) is expected here; anything else is not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default per-request stderr line."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            fake._record(recorded, completed=False)
            if self.path.endswith("/embeddings"):
                self._embeddings(body)
                fake._record(recorded, completed=True)
                return
            if not self.path.endswith("/chat/completions"):
                self._send(404, json.dumps({"error": {"message": "no such route"}}).encode())
                return
            reply = fake._next_reply(body)
            fake._track(+1)
            try:
                self._answer(body, reply, recorded.headers)
            except (BrokenPipeError, ConnectionResetError):
                return  # the caller is gone (a killed worker); nothing completed
            finally:
                fake._track(-1)
            if reply.status == 200 and reply.body is None:
                fake._record(recorded, completed=True)

        def _embeddings(self, body: dict[str, Any]) -> None:
            if fake.embed_delay_s:
                time.sleep(fake.embed_delay_s)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": fake.embed(text)}
                for i, text in enumerate(texts)
            ]
            tokens = sum(len(str(text).split()) for text in texts)
            answer = {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
            self._send(200, json.dumps(answer).encode())

        def _answer(self, body: dict[str, Any], reply: Reply, headers: dict[str, str]) -> None:
            if reply.echo_headers:
                message = f"unauthorized; your request headers were {json.dumps(headers)}"
                error = {"error": {"message": message, "type": "fake_error", "code": None}}
                self._send(reply.status, json.dumps(error).encode())
                return
            if reply.hold is not None:
                reply.hold.wait()
            streamed = reply.body is None and reply.status == 200 and body.get("stream")
            if reply.delay_s and not streamed:
                # A streamed reply spreads its delay over the words instead.
                time.sleep(reply.delay_s)
            if reply.body is not None and reply.status == 200 and body.get("stream"):
                self._malformed_stream(reply.body)
            elif reply.body is not None or reply.status != 200:
                self._send(reply.status, reply.body or b"{}", reply.headers)
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._send(200, json.dumps(_completion(body, reply)).encode(), reply.headers)

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def _stream(self, request: dict[str, Any], reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.close_connection = True
            for index, (name, arguments) in enumerate(reply.tool_calls):
                # Arguments arrive in two pieces, as real servers split them.
                half = len(arguments) // 2
                for piece, head in ((arguments[:half], True), (arguments[half:], False)):
                    call: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
                    if head:
                        call |= {"id": f"call_{index}", "type": "function"}
                        call["function"]["name"] = name
                    self._event(_chunk(request, {"tool_calls": [call]}, None))
            words = (reply.text or "").split(" ") if reply.text else []
            for index, word in enumerate(words):
                delta = word if index == 0 else " " + word
                self._event(_chunk(request, {"content": delta}, None))
                fake.emitted.append(time.monotonic())
                if reply.delay_s:
                    time.sleep(reply.delay_s / max(len(words), 1))
            self._event(_chunk(request, {}, reply.finish_reason))
            if (request.get("stream_options") or {}).get("include_usage"):
                usage_chunk = _chunk(request, None, None)
                usage_chunk["usage"] = _usage(reply)
                self._event(usage_chunk)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _malformed_stream(self, garbage: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(b"data: " + garbage + b"\n\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

    return Handler


def _usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": _usage(reply),
    }


def _chunk(
    request: dict[str, Any], delta: dict[str, Any] | None, finish: str | None
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": request.get("model", "fake-model"),
        "choices": choices,
    }
