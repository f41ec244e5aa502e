"""Streaming one string field of a JSON answer as it arrives: a structured answer's `answer`
text reaches the job's `token` events word by word, while the whole JSON is still checked
against its schema at the end."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class JsonFieldText:
    """Feed it the JSON's text deltas; it hands `on_text` the decoded text of `field`'s
    string value (its first occurrence), as far as the JSON has come."""

    def __init__(self, field: str, on_text: Callable[[str], None]) -> None:
        self._start = re.compile(rf'"{re.escape(field)}"\s*:\s*"')
        self._on_text = on_text
        self._buffer = ""
        self._at: int | None = None  # where the undecoded rest of the value begins
        self._done = False

    def __call__(self, delta: str) -> None:
        if self._done:
            return
        self._buffer += delta
        if self._at is None:
            found = self._start.search(self._buffer)
            if found is None:
                return
            self._at = found.end()
        text, self._at, self._done = _decode(self._buffer, self._at)
        if text:
            self._on_text(text)


def _decode(buffer: str, at: int) -> tuple[str, int, bool]:
    """Decode a JSON string's characters from `at`: (text, where to go on, whether it ended).
    An escape cut off by the end of the buffer waits for the next delta."""
    out: list[str] = []
    while at < len(buffer):
        char = buffer[at]
        if char == '"':
            return "".join(out), at + 1, True
        if char != "\\":
            out.append(char)
            at += 1
            continue
        if at + 1 >= len(buffer):
            break
        kind = buffer[at + 1]
        if kind == "u":
            if at + 6 > len(buffer):
                break
            try:
                out.append(json.loads(f'"{buffer[at : at + 6]}"'))
            except json.JSONDecodeError:
                pass  # a lone surrogate half: the schema check will see the whole text
            at += 6
            continue
        out.append(_ESCAPES.get(kind, kind))
        at += 2
    return "".join(out), at, False
