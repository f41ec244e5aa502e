"""The CLI's HTTP side: one client with the key, and API errors turned into one-line messages."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# `make run` keeps its generated key here; used when AIJOBS_API_KEY is not set.
DEV_KEY_FILE = Path(".data/dev-api-key")
# A start is tried this often, waiting what the API's Retry-After says (at most the cap).
START_ATTEMPTS = 5
RETRY_CAP_S = 10.0


class CliError(Exception):
    """Printed as one line, exit status 1."""


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True, populate_by_name=True)

    url: str = Field(default="http://localhost:8000", alias="AIJOBS_URL")
    api_key: SecretStr | None = Field(default=None, alias="AIJOBS_API_KEY")


class ApiClient:
    def __init__(self, settings: CliSettings) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else _dev_key()
        if not key:
            raise CliError("no API key: set AIJOBS_API_KEY (make run prints a dev key)")
        self.base = settings.url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(30.0, read=None),
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise CliError(
                f"cannot reach {self.base} ({type(err).__name__}); is the API up? "
                "Set AIJOBS_URL to point elsewhere."
            ) from None
        if response.is_error:
            raise CliError(_explain(response))
        return response.json() if response.content else None

    def start_job(self, body: dict[str, Any], key: str | None) -> Any:
        """POST /v1/jobs by the API's retry rule: one Idempotency-Key for every attempt, and
        a 503, a 429 or a lost connection asked again with it, so the job starts once."""
        key = key or f"cli-{uuid.uuid4().hex}"
        for attempt in range(START_ATTEMPTS):
            last = attempt + 1 == START_ATTEMPTS
            try:
                response = self._http.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError as err:
                if last:
                    raise CliError(
                        f"cannot reach {self.base} ({type(err).__name__}); the job may or may not "
                        f"have started: submit again with --idempotency-key {key}"
                    ) from None
                time.sleep(min(2**attempt, RETRY_CAP_S))
                continue
            if response.status_code in (429, 503) and not last:
                time.sleep(_retry_after(response, 2**attempt))
                continue
            if response.is_error:
                raise CliError(_explain(response))
            return response.json()
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def events(self, job_id: str, after: str | None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(id, type, data) for each event; keep-alive comments are skipped."""
        headers = {"Last-Event-ID": after} if after else {}
        try:
            with connect_sse(
                self._http, "GET", f"/v1/jobs/{job_id}/events", headers=headers
            ) as src:
                if src.response.is_error:
                    src.response.read()
                    raise CliError(_explain(src.response))
                for sse in src.iter_sse():
                    if sse.data:
                        yield sse.id, sse.event, json.loads(sse.data)
        except httpx.TransportError as err:
            raise ConnectionError(str(err)) from err


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    return min(float(value) if value.isdigit() else default, RETRY_CAP_S)


def _dev_key() -> str | None:
    return DEV_KEY_FILE.read_text().strip() if DEV_KEY_FILE.exists() else None


def _explain(response: httpx.Response) -> str:
    """`404: job 'x' not found`, or for 422 each field error as `field: message`."""
    try:
        body = response.json()
        detail = body.get("detail") or body.get("message")
    except ValueError:
        detail = response.text.strip()
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'request'}: {e.get('msg')}"
            for e in detail
        )
    return f"{response.status_code}: {detail or response.reason_phrase}"
