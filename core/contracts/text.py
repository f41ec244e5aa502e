"""Text that aijobs stores or sends on: PostgreSQL cannot hold a NUL character, and a lone
surrogate (half of a UTF-16 pair, which JSON's `\\ud800` escapes can carry) is not text at all:
it cannot be encoded as UTF-8 for the database, a model or a log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator


def unstorable(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text"
    return None


def unstorable_strings(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each (location, reason) of a string, key included, that cannot be stored, at any depth
    of parsed JSON (walked without recursion: a body may nest as deep as the parser allows)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            if (reason := unstorable(item)) is not None:
                yield at, reason
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                if isinstance(key, str) and (reason := unstorable(key)) is not None:
                    yield at, f"a field name {reason}"
                else:
                    stack.append(((*at, key), child))
        elif isinstance(item, list):
            stack.extend(((*at, index), child) for index, child in reversed(list(enumerate(item))))


def _storable(value: str) -> str:
    if (reason := unstorable(value)) is not None:
        raise ValueError(reason)
    return value


# People's input that aijobs stores: refused at the boundary with a 422 naming the field.
StorableText = Annotated[str, AfterValidator(_storable)]
