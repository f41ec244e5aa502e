"""Delivering a job's webhook: one attempt per activity attempt, signed with the owner's
current secrets (Standard Webhooks, through the `standardwebhooks` package), sent only to
public addresses checked at this attempt, and recorded in the job's events."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from ipaddress import ip_address

import httpx
import structlog
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.database_waits import until_stored
from activities.heartbeat import heartbeating
from activities.pinned_http import send_to
from core.addresses import IPAddress, is_metadata, non_public
from core.contracts.webhooks import DELIVER_WEBHOOK, WEBHOOK_REFUSED, WebhookAttempt, WebhookMessage
from core.events import WebhookDeliveredEvent, WebhookFailedEvent
from store import JobEventLog, WebhookStore
from store.job_events import NewEvent

log = structlog.get_logger(__name__)

# What one attempt may take; a receiver should answer fast and work later.
ATTEMPT_TIMEOUT_S = 15.0
# Statuses worth trying again; any other 4xx is the receiver saying no.
RETRIED_STATUSES = frozenset({408, 425, 429})
# The longest `Retry-After` honoured; beyond it Temporal's own backoff applies.
MAX_RETRY_AFTER = timedelta(hours=1)


class _Refused(Exception):
    """An attempt that must not be repeated: the reason goes in the event and the failure."""


class WebhookActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        secrets: WebhookStore,
        events: JobEventLog,
        allow_private: frozenset[str],
        grace: timedelta,
        resolve: Callable[[str, int], Awaitable[list[IPAddress]]] | None = None,
    ) -> None:
        """`resolve` (host, port) to addresses: the system's resolver unless a test gives one."""
        self._resolve = resolve or _resolve
        self._http = http
        self._secrets = secrets
        self._events = events
        self._allow_private = allow_private
        self._grace = grace

    @activity.defn(name=DELIVER_WEBHOOK)
    async def deliver_webhook(self, message: WebhookMessage) -> WebhookAttempt:
        """Send `message` once. A network error, a timeout, a 5xx, 408 or 429 raises so that
        Temporal tries again (after `Retry-After` when the receiver gave one); another 4xx or a
        non-public address ends the delivery."""
        attempt = activity.info().attempt
        if attempt == 1:
            await until_stored(
                lambda: self._secrets.remember(
                    message.owner, message.job_id, message.model_dump(mode="json")
                ),
                "webhook message",
            )
        status: int | None = None
        try:
            url = _parse(message.url)
            # Beats while the receiver takes its time, so a lost worker is noticed at once.
            async with heartbeating():
                addresses = await self._addresses(url)
                response = await self._send(message, url, addresses)
            status = response.status_code
            if response.is_success:
                await self._record(
                    message,
                    WebhookDeliveredEvent(
                        webhook_id=message.webhook_id,
                        event=message.event,
                        status=status,
                        attempt=attempt,
                    ),
                )
                log.info("webhook.delivered", job_id=message.job_id, status=status)
                return WebhookAttempt(delivered=True, status=status, attempt=attempt)
            if 400 <= status < 500 and status not in RETRIED_STATUSES:
                raise _Refused(f"the receiver answered {status}")
            raise ApplicationError(
                f"the receiver answered {status}",
                type="WebhookFailed",
                next_retry_delay=_retry_after(response),
            )
        except _Refused as err:
            await self._failed(message, attempt, status, str(err), final=True)
            raise ApplicationError(str(err), type=WEBHOOK_REFUSED, non_retryable=True) from None
        except ApplicationError as err:
            await self._failed(message, attempt, status, err.message, final=False)
            raise
        except (httpx.HTTPError, OSError) as err:
            await self._failed(message, attempt, None, type(err).__name__, final=False)
            raise ApplicationError(
                f"the receiver could not be reached: {type(err).__name__}", type="WebhookFailed"
            ) from None

    async def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        """The URL's addresses, each one public (unless its host is exempt; never metadata)."""
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await self._resolve(host, port)
        exempt = host.lower() in self._allow_private
        for address in addresses:
            why = non_public(address)
            if why is not None and (not exempt or is_metadata(address)):
                raise _Refused(f"{host} resolves to {address}, {why}")
        return addresses

    async def _send(
        self, message: WebhookMessage, url: httpx.URL, addresses: list[IPAddress]
    ) -> httpx.Response:
        body = json.dumps(message.body, separators=(",", ":")).encode()
        now = datetime.now(UTC)
        secrets = await until_stored(
            lambda: self._secrets.signing(message.owner, self._grace), "webhook secret"
        )
        # Each secret's signature, space-separated: a receiver holding either one verifies.
        signature = " ".join(Webhook(s).sign(message.webhook_id, now, body) for s in secrets)
        headers = {
            "content-type": "application/json",
            "webhook-id": message.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "user-agent": "aijobs-webhooks",
        }
        async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
            # Only the status counts: the receiver's body is never read (it could be huge).
            response = await send_to(
                self._http, "POST", url, addresses, content=body, headers=headers, stream=True
            )
            await response.aclose()
            return response

    async def _failed(
        self, message: WebhookMessage, attempt: int, status: int | None, error: str, *, final: bool
    ) -> None:
        log.warning("webhook.failed", job_id=message.job_id, status=status, error=error)
        event = WebhookFailedEvent(
            webhook_id=message.webhook_id,
            event=message.event,
            status=status,
            attempt=attempt,
            error=error,
            final=final,
        )
        await self._record(message, event)

    async def _record(
        self, message: WebhookMessage, event: WebhookDeliveredEvent | WebhookFailedEvent
    ) -> None:
        key = f"{message.webhook_id}/{activity.info().activity_id}/{event.attempt}"
        entry = NewEvent(key, event.type, event.model_dump(mode="json"))
        await until_stored(lambda: self._events.append(message.job_id, [entry]), "events")


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address of `host` (an address literal is itself)."""
    try:
        return [ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ip_address(info[4][0]) for info in infos))


def _parse(raw: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as err:
        raise _Refused(f"not a usable URL: {err}") from None
    if url.scheme not in ("http", "https") or not url.raw_host:
        raise _Refused("not an http(s) URL with a host")
    return url


def _retry_after(response: httpx.Response) -> timedelta | None:
    """The receiver's `Retry-After` (seconds or an HTTP date), capped; None without one."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        wait = timedelta(seconds=float(raw))
    except ValueError:
        try:
            wait = parsedate_to_datetime(raw) - datetime.now(UTC)
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(wait, MAX_RETRY_AFTER))
