"""Streaming one string field of a JSON answer as it arrives: a structured answer's `answer`
text reaches the job's `token` events word by word, while the whole JSON is still checked
against its schema at the end. pydantic-core parses the partial JSON (its trailing strings
included); this only hands on what is new."""

from __future__ import annotations

from collections.abc import Callable

from pydantic_core import from_json


class JsonFieldText:
    """Feed it the JSON's text deltas; it hands `on_text` the text of the top-level string
    field `field`, as far as the JSON has come."""

    def __init__(self, field: str, on_text: Callable[[str], None]) -> None:
        self._field = field
        self._on_text = on_text
        self._buffer = ""
        self._sent = 0

    def __call__(self, delta: str) -> None:
        self._buffer += delta
        try:
            parsed = from_json(self._buffer, allow_partial="trailing-strings")
        except ValueError:
            return  # not JSON (yet, or at all): the schema check at the end says so
        value = parsed.get(self._field) if isinstance(parsed, dict) else None
        if isinstance(value, str) and len(value) > self._sent:
            self._on_text(value[self._sent :])
            self._sent = len(value)
