"""Pure ASGI middleware: a request id on every log line, and a cap on request body size."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlsplit

import structlog
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.error_body import REQUEST_ID, error_body
from api.metrics import HTTP_DURATION

log = structlog.get_logger("api.http")

_BODY_METHODS = {"POST", "PUT", "PATCH"}
# How far past the limit an upload is read and dropped so the client can read the 413.
_DRAIN_FACTOR = 8


class RequestContext:
    """Bind a request id for structlog, echo it as X-Request-ID, log one line per request, and
    answer anything nothing else handled with a 500 that quotes the id and nothing more."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        token = REQUEST_ID.set(request_id)
        started = time.monotonic()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                nonlocal response_started
                response_started = True
                status = message["status"]
                # The route's template, never the path: job ids would make a series each.
                route = getattr(scope.get("route"), "path", "unmatched")
                HTTP_DURATION.labels(scope["method"], route, str(status)).observe(
                    time.monotonic() - started
                )
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("http.unhandled", method=scope["method"], path=scope["path"])
            if response_started:
                raise  # mid-stream: the connection can only be cut
            payload = json.dumps(
                error_body("internal_error", f"internal error (request {request_id})")
            ).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
        finally:
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )
            REQUEST_ID.reset(token)
            structlog.contextvars.clear_contextvars()


class BodySizeLimit:
    """Answer 413 before the app sees a body over AIJOBS_MAX_BODY_BYTES, sized or chunked.

    Not FastAPI's `max_body_size`: that is fixed when the app is built (before settings are
    read, at lifespan start), answers in plain text, and resets uploads that are still sending.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        # Settings are read at lifespan start, after this middleware is built.
        max_bytes: int = scope["app"].state.settings.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, max_bytes)
            return
        # Read the whole body (it is bounded), then hand it to the app as one message.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > max_bytes:
                await self._drain(receive, len(body), max_bytes * _DRAIN_FACTOR)
                await self._reject(send, max_bytes)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Receive, seen: int, cap: int) -> None:
        """Read (and drop) the rest of a modest upload so the client gets to read our 413.

        Past `cap` we stop reading and the connection closes on the 413 instead.
        """
        more = True
        while more and seen <= cap:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            more = message.get("more_body", False)

    async def _reject(self, send: Send, max_bytes: int) -> None:
        payload = json.dumps(
            error_body(
                "payload_too_large", f"request body is larger than the limit of {max_bytes} bytes"
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def ui_origins(ui_url: str) -> list[str]:
    """The Temporal UI's origin; a local UI is reached as localhost and as 127.0.0.1 alike."""
    parts = urlsplit(ui_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    local = {"localhost", "127.0.0.1"}
    if parts.hostname in local:
        port = f":{parts.port}" if parts.port else ""
        return [f"{parts.scheme}://{host}{port}" for host in sorted(local)]
    return [origin]


class CodecCors:
    """CORS for the codec server only: the Temporal UI's origin may call it with credentials.
    The rest of the API answers no cross-origin request. Built on the first request, when the
    settings are known."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cors: CORSMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/codec/"):
            await self.app(scope, receive, send)
            return
        if self._cors is None:
            self._cors = CORSMiddleware(
                self.app,
                allow_origins=ui_origins(scope["app"].state.settings.ui_url),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                allow_credentials=True,
                max_age=600,
            )
        await self._cors(scope, receive, send)
