"""Making machine-produced text storable: PostgreSQL refuses NUL in text and JSONB."""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` with every NUL in its strings (at any depth) replaced by U+FFFD. A model or a
    fetched page can emit NUL; refusing to store it would fail the step on every retry."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
