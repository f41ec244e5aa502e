"""The CLI's HTTP side: one client with the key, and API errors turned into one-line messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# `make run` keeps its generated key here; used when AIJOBS_API_KEY is not set.
DEV_KEY_FILE = Path(".data/dev-api-key")


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
        return response.json()

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


def _dev_key() -> str | None:
    return DEV_KEY_FILE.read_text().strip() if DEV_KEY_FILE.exists() else None


def _explain(response: httpx.Response) -> str:
    """`404: job 'x' not found`, or for 422 each field error as `field: message`."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text.strip()
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'request'}: {e.get('msg')}"
            for e in detail
        )
    return f"{response.status_code}: {detail or response.reason_phrase}"
