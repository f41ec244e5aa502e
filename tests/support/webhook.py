"""A real HTTP server for tests: records webhook POSTs, and serves pages to GET."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    # The body as sent, byte for byte (what a signature covers).
    raw: bytes = b""


class Webhook:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        # Whole answers to POSTs, taken before `statuses`: (status, headers, body).
        self.replies: deque[tuple[int, dict[str, str], bytes]] = deque()
        # path -> (status, headers, body) for GET requests.
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base}/hook"

    @contextmanager
    def running(self) -> Iterator[Webhook]:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                webhook.received.append(Received(headers, json.loads(raw), raw))
                if webhook.replies:
                    status, reply_headers, reply = webhook.replies.popleft()
                else:
                    status = webhook.statuses.popleft() if webhook.statuses else 200
                    reply_headers, reply = {}, b""
                self.send_response(status)
                for name, value in reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self) -> None:
                status, headers, body = webhook.pages.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server = server
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
