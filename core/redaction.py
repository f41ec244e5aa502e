"""One redaction step for every text that leaves a process: log lines, error messages a worker
reports to Temporal, and error bodies the API answers.

It replaces the configured secrets (model key, Temporal key, API and codec keys, encryption
keys, passwords inside URLs), in every form they travel in (as written, URL-encoded, and a
URL's `user:password` as the base64 of HTTP Basic auth), and, as a backstop, the password of
any URL and any bearer or Basic credential it meets. A gateway that echoes the request's
headers in its 401 then hands nobody a credential.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, PayloadConverter

from core.config import Settings

REDACTED = "[redacted]"
# What SQLAlchemy appends to a database error's text: the statement and its parameters (a job's
# data), up to the link it always ends with. Bounded, like every pattern here.
_SQL_AND_PARAMETERS = re.compile(
    r"\n?\[SQL: .{0,100000}?\](?:\n\[parameters: .{0,100000}?\])?\n?(?=\(Background on this)",
    re.DOTALL,
)
# Shorter values are not secrets worth the false positives (a key of "1" in a test).
_MIN_SECRET_CHARS = 6
# Bounded repeats, so a long run of letters costs linear time, not quadratic.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^/\s:@]{1,256}:)[^/\s@]{1,1024}(?=@)"
)
_BEARER = re.compile(r"(?i)(?P<head>bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# HTTP Basic credentials: base64 with both cases or a digit, so "basic understanding" stays.
_BASIC = re.compile(
    r"(?P<head>\b[Bb]asic\s+)(?=[A-Za-z0-9+/]{0,200}[A-Z0-9])(?=[A-Za-z0-9+/]{0,200}[a-z])"
    r"[A-Za-z0-9+/]{8,1024}={0,2}"
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {form for s in secrets for form in _forms(s) if len(form) >= _MIN_SECRET_CHARS}
        # Longest first: a secret that contains another is replaced whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if "://" in value and "@" in value:
            value = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}", value)
        value = _BEARER.sub(rf"\g<head>{REDACTED}", value)
        if "[SQL: " in value:
            value = _SQL_AND_PARAMETERS.sub("", value)
        return _BASIC.sub(rf"\g<head>{REDACTED}", value)

    def any(self, value: Any) -> Any:
        """`value` with every string in it (at any depth) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.any(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.any(v) for v in value)
        return value


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret the settings hold, as it could appear in a text."""
    found: list[str] = []
    for secret in (settings.openai_api_key, settings.temporal_api_key):
        if secret is not None:
            found.append(secret.get_secret_value())
    for keys in (settings.api_keys, settings.codec_keys):
        found += [k.plain.get_secret_value() for owned in keys.values() for k in owned if k.plain]
    found += [r.key.plain.get_secret_value() for r in settings.reviewers.values() if r.key.plain]
    found += [key.get_secret_value() for key in settings.encryption_keys.values()]
    urls = [settings.openai_base_url, settings.publish_webhook, settings.notify_webhook]
    if settings.database_url is not None:
        urls.append(settings.database_url.get_secret_value())
    for url in filter(None, urls):
        found += url_credentials(url)
    return found


def url_credentials(url: str) -> list[str]:
    """A URL's password, and its `user:password` as HTTP Basic auth sends it (base64 of the
    decoded pair): what an echoing server may quote back."""
    parts = urlsplit(url)
    if not parts.password:
        return []
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password)}".encode()
    basic = base64.b64encode(pair).decode()
    return [parts.password, basic, basic.rstrip("=")]


def _forms(secret: str) -> set[str]:
    """The secret as written, decoded from and encoded for a URL."""
    return {secret, unquote(secret), quote(secret, safe="")}


_redactor = Redactor()


def install(settings: Settings) -> None:
    """Redact this process's configured secrets from now on (worker and API start-up)."""
    global _redactor
    _redactor = Redactor(configured_secrets(settings))


def redact(value: str) -> str:
    return _redactor.text(value)


def redact_any(value: Any) -> Any:
    return _redactor.any(value)


def _redact_failure(
    failure: Failure, payload_converter: PayloadConverter, exception: BaseException
) -> None:
    def clean(text: str) -> str:
        return redact(_without_statement(text, exception))

    failure.message = clean(failure.message)
    failure.stack_trace = clean(failure.stack_trace)
    if failure.HasField("encoded_attributes"):
        [attributes] = payload_converter.from_payloads([failure.encoded_attributes])
        if isinstance(attributes, dict):
            cleaned = {k: clean(v) if isinstance(v, str) else v for k, v in attributes.items()}
            failure.encoded_attributes.CopyFrom(
                payload_converter.to_payloads([redact_any(cleaned)])[0]
            )


def _without_statement(text: str, exception: BaseException) -> str:
    """A database error's text without the SQL statement and parameters SQLAlchemy appends:
    they would quote a job's data (and the schema) in its error."""
    # By shape, not by import: workflow code loads this module and must not load SQLAlchemy.
    if not hasattr(exception, "statement") or not hasattr(exception, "orig"):
        return text
    cause = exception.orig if exception.orig is not None else exception
    reason = (str(cause).strip().splitlines() or [""])[0]
    return text.replace(str(exception), f"database error ({type(cause).__name__}): {reason}")


class RedactingFailureConverter(DefaultFailureConverter):
    """Every failure a worker or client reports (an activity's, a workflow's, and each cause
    beneath: the base class recurses through `to_failure`) leaves without a secret."""

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        _redact_failure(failure, payload_converter, exception)


class RedactingEncodedFailureConverter(RedactingFailureConverter):
    """The same, with message and stack trace moved into the (encrypted) encoded attributes."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)
